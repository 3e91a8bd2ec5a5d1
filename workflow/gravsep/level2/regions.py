"""Regions and their monthly means: Natural Earth land areas, or the polygons of a shapefile.

With no shapefile (``apply.<name>.regions.shapefile: null``) a region is land of the shipped
Natural Earth 1:110m polygons (``ne_110m_land``, :mod:`gravsep.synthetic.landmask`) inside a
box (``box: [lat_min, lat_max, lon_min, lon_max]``, degrees, lon -180..180), or the land polygon
that holds a point (``contains: [lat, lon]``, e.g. Greenland). The default areas (schema) are
Greenland, Antarctica, the Amazon and the Ganges-Brahmaputra; the boxes of the river basins are
rough outlines at this resolution, not the basins' divides. With a shapefile every polygon
(record) is a region, named by its attribute ``name_field``.

A regional mean is the area-weighted (cos latitude) mean of the grid cells whose centres lie
in the region, in metres of EWH; a region with no cell on the grid (too small, or outside a
regional cut-out) gets NaN.
"""

from pathlib import Path

import numpy as np

from gravsep.synthetic.landmask import land_mask, polygon_mask


def _wrap(lon):
    return (np.asarray(lon, dtype=float) + 180.0) % 360.0 - 180.0


def natural_earth_masks(lat, lon, areas, shapefile=None):
    """``{name: (nlat, nlon) bool}`` of Natural Earth areas (module docstring)."""
    land = land_mask(lat, lon, shapefile)
    lat2, lon2 = np.meshgrid(np.asarray(lat, float), _wrap(lon), indexing="ij")
    masks = {}
    for name, area in areas.items():
        if "contains" in area:
            masks[name] = polygon_mask(lat, lon, area["contains"], shapefile)
        else:
            a, b, c, d = area["box"]
            box = (lat2 >= a) & (lat2 <= b) & (lon2 >= c) & (lon2 <= d)
            masks[name] = land & box
    return masks


def shapefile_masks(lat, lon, shapefile, name_field="NAME"):
    """``{name: (nlat, nlon) bool}`` of every polygon of a user shapefile.

    Raises
    ------
    ValueError
        The shapefile lacks ``name_field`` (the fields it has are named).
    """
    import shapefile as pyshp
    import shapely
    from shapely.geometry import shape

    lat2, lon2 = np.meshgrid(np.asarray(lat, float), _wrap(lon), indexing="ij")
    masks = {}
    with pyshp.Reader(str(shapefile)) as reader:
        fields = [f[0] for f in reader.fields[1:]]
        if name_field not in fields:
            raise ValueError(f"{shapefile}: no attribute {name_field!r} (fields: {fields})")
        for rec in reader.iterShapeRecords():
            geom = shape(rec.shape.__geo_interface__)
            name = str(rec.record[name_field])
            inside = shapely.contains_xy(geom, lon2.ravel(), lat2.ravel()).reshape(lat2.shape)
            masks[name] = masks.get(name, np.zeros_like(inside)) | inside
    return masks


def region_masks(lat, lon, regions, land_shapefile=None):
    """Masks of the configured regions (``apply.<name>.regions``)."""
    if regions.get("shapefile"):
        return shapefile_masks(lat, lon, Path(regions["shapefile"]), regions["name_field"])
    return natural_earth_masks(lat, lon, regions["areas"], land_shapefile)


def regional_means(cube, mask, lat):
    """Area-weighted mean over ``mask`` of ``(..., lat, lon, t)`` values, ``(..., t)``.

    NaN where the mask holds no grid cell.
    """
    cube = np.asarray(cube, dtype=np.float64)
    w = np.cos(np.deg2rad(np.asarray(lat, float)))[:, None] * mask
    total = w.sum()
    if total <= 0:
        return np.full(cube.shape[:-3] + cube.shape[-1:], np.nan)
    return np.einsum("...ijt,ij->...t", cube, w) / total


def cell_counts(masks):
    """Grid cells of each region."""
    return {name: int(m.sum()) for name, m in masks.items()}
