"""Spherical harmonics: synthesis and analysis, Gaussian filter, EWH units."""
