"""Exports of separated fields (NetCDF-CF, ICGEM) and of the windows (ICGEM)."""
