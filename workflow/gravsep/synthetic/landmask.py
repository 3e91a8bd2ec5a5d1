"""Land, ocean and ice masks on latitude/longitude grids from Natural Earth polygons.

The land polygons are the Natural Earth 1:110m land shapefile shipped with the project
(public domain), read with pyshp and tested point by point with shapely's vectorised
``contains_xy``. Longitudes may be given in 0..360 or -180..180 degrees east.

Ice regions are built from the land mask and latitude/longitude boxes:

- ``greenland``: the land polygon that contains (72 N, 42 W);
- ``antarctica_west`` / ``antarctica_east``: land south of 60 S, split at the meridians
  of 180 and 20 W (West: 180 W..20 W, which holds the Antarctic Peninsula and the Amundsen
  Sea sector);
- mountain glaciers and ice caps: ``alaska``, ``canadian_arctic`` (without Greenland),
  ``arctic_islands`` (Iceland, Svalbard, Franz Josef Land, Novaya Zemlya, Severnaya Zemlya),
  ``patagonia`` and ``high_mountain_asia``: land inside boxes.

The boxes are generous at the 110m resolution (they hold the glaciers and the land around
them); that is deliberate for a synthetic model truncated at low degree.
"""

from functools import lru_cache
from pathlib import Path

import numpy as np

#: The Natural Earth 1:110m land polygons shipped in ``resources/``.
DEFAULT_SHAPEFILE = (
    Path(__file__).resolve().parents[3]
    / "resources/natural_earth/shapefiles/natural_earth/physical/ne_110m_land.shp"
)

#: Mountain-glacier and ice-cap regions: name -> list of boxes
#: (lat_min, lat_max, lon_min, lon_max) in degrees, longitudes in -180..180 east.
GLACIER_BOXES = {
    "alaska": [(56.0, 64.5, -156.0, -128.0)],
    "canadian_arctic": [(73.0, 84.0, -100.0, -60.0)],
    "arctic_islands": [
        (63.0, 67.0, -25.0, -13.0),  # Iceland
        (76.0, 81.0, 10.0, 35.0),  # Svalbard
        (79.0, 82.0, 45.0, 65.0),  # Franz Josef Land
        (70.0, 77.5, 50.0, 70.0),  # Novaya Zemlya
        (78.0, 81.5, 90.0, 108.0),  # Severnaya Zemlya
    ],
    "patagonia": [(-56.0, -45.0, -76.5, -71.0)],
    "high_mountain_asia": [
        (33.0, 37.5, 70.0, 78.0),  # Hindu Kush, Karakoram, western Himalaya
        (37.0, 40.0, 70.0, 75.0),  # Pamir
        (27.0, 31.0, 79.0, 95.0),  # central and eastern Himalaya
        (28.0, 32.0, 90.0, 99.0),  # Nyainqentanglha, south-eastern Tibet
        (40.0, 44.0, 72.0, 88.0),  # Tien Shan
    ],
}

#: A point inside Greenland (lon, lat) that identifies its polygon.
GREENLAND_POINT = (-42.0, 72.0)

#: Names of all ice regions returned by :func:`ice_masks`, in a fixed order.
ICE_REGIONS = (
    "greenland",
    "antarctica_west",
    "antarctica_east",
    "alaska",
    "canadian_arctic",
    "arctic_islands",
    "patagonia",
    "high_mountain_asia",
)


def _shapefile_path(shapefile):
    return Path(shapefile) if shapefile is not None else DEFAULT_SHAPEFILE


@lru_cache(maxsize=4)
def _land_polygons(path):
    """Prepared shapely polygons of a land shapefile (cached per path)."""
    import shapefile as pyshp
    import shapely
    from shapely.geometry import shape

    if not Path(path).exists():
        raise FileNotFoundError(f"land shapefile not found: {path}")
    with pyshp.Reader(str(path)) as reader:
        geoms = [shape(s.__geo_interface__) for s in reader.shapes()]
    geoms = [g for g in geoms if not g.is_empty]
    for g in geoms:
        shapely.prepare(g)
    union = shapely.union_all(geoms)
    shapely.prepare(union)
    return tuple(geoms), union


def land_geometry(shapefile=None):
    """The union of all land polygons (shapely geometry, lon -180..180, lat degrees)."""
    return _land_polygons(str(_shapefile_path(shapefile)))[1]


def _wrap(lon):
    """Longitudes to -180..180 degrees east."""
    return (np.asarray(lon, dtype=float) + 180.0) % 360.0 - 180.0


def _mesh(lat_deg, lon_deg):
    lat = np.asarray(lat_deg, dtype=float)
    lon = np.asarray(lon_deg, dtype=float)
    if lat.ndim != 1 or lon.ndim != 1:
        raise ValueError("lat_deg and lon_deg must be 1-D vectors (the grid's axes)")
    return np.meshgrid(lat, _wrap(lon), indexing="ij")


def _contains(geom, lat2, lon2):
    import shapely

    inside = shapely.contains_xy(geom, lon2.ravel(), lat2.ravel())
    # points exactly on the 180 meridian: try the other side of the date line too
    edge = np.abs(lon2.ravel()) == 180.0
    if edge.any():
        inside[edge] |= shapely.contains_xy(geom, -lon2.ravel()[edge], lat2.ravel()[edge])
    return inside.reshape(lat2.shape)


def land_mask(lat_deg, lon_deg, shapefile=None):
    """Land/ocean mask on a latitude/longitude grid.

    Parameters
    ----------
    lat_deg : array_like
        ``(nlat,)`` latitudes [degrees north], any order.
    lon_deg : array_like
        ``(nlon,)`` longitudes [degrees east], 0..360 or -180..180.
    shapefile : path-like, optional
        Land polygons; default :data:`DEFAULT_SHAPEFILE` (Natural Earth 1:110m).

    Returns
    -------
    numpy.ndarray
        ``(nlat, nlon)`` bool, True on land (Antarctica included).
    """
    lat2, lon2 = _mesh(lat_deg, lon_deg)
    mask = _contains(land_geometry(shapefile), lat2, lon2)
    # the polygons stop at 90 S only along their edge; the pole itself is land
    mask |= lat2 <= -89.9
    return mask


def polygon_mask(lat_deg, lon_deg, point, shapefile=None):
    """The land polygon(s) containing ``point`` (lat, lon [degrees]) on a grid, ``(nlat, nlon)``
    bool (all False where the point is at sea)."""
    import shapely

    lat2, lon2 = _mesh(lat_deg, lon_deg)
    geoms, _ = _land_polygons(str(_shapefile_path(shapefile)))
    target = shapely.Point(float(_wrap(point[1])), float(point[0]))
    mask = np.zeros(lat2.shape, dtype=bool)
    for g in geoms:
        if g.contains(target):
            mask |= _contains(g, lat2, lon2)
    return mask


def _box(lat2, lon2, boxes):
    sel = np.zeros(lat2.shape, dtype=bool)
    for lat0, lat1, lon0, lon1 in boxes:
        sel |= (lat2 >= lat0) & (lat2 <= lat1) & (lon2 >= lon0) & (lon2 <= lon1)
    return sel


def ice_masks(lat_deg, lon_deg, shapefile=None):
    """Masks of the ice regions of the synthetic model (see the module docstring).

    Parameters
    ----------
    lat_deg, lon_deg, shapefile
        As for :func:`land_mask`.

    Returns
    -------
    dict
        Region name (:data:`ICE_REGIONS`, in that order) -> ``(nlat, nlon)`` bool mask.
        The regions do not overlap.
    """
    lat2, lon2 = _mesh(lat_deg, lon_deg)
    land = land_mask(lat_deg, lon_deg, shapefile)
    geoms, _ = _land_polygons(str(_shapefile_path(shapefile)))
    import shapely

    gl_point = shapely.Point(*GREENLAND_POINT)
    greenland_polys = [g for g in geoms if g.contains(gl_point)]
    greenland = np.zeros(land.shape, dtype=bool)
    for g in greenland_polys:
        greenland |= _contains(g, lat2, lon2)
    antarctica = land & (lat2 <= -60.0)
    west = antarctica & (lon2 < -20.0)
    masks = {
        "greenland": greenland,
        "antarctica_west": west,
        "antarctica_east": antarctica & ~west,
    }
    for name, boxes in GLACIER_BOXES.items():
        masks[name] = land & _box(lat2, lon2, boxes) & ~greenland
    return {name: masks[name] for name in ICE_REGIONS}


def ice_sheet_mask(lat_deg, lon_deg, shapefile=None):
    """Greenland and Antarctica, ``(nlat, nlon)`` bool."""
    m = ice_masks(lat_deg, lon_deg, shapefile)
    return m["greenland"] | m["antarctica_west"] | m["antarctica_east"]


def ice_mask(lat_deg, lon_deg, shapefile=None):
    """Union of all ice regions (ice sheets and mountain glaciers), ``(nlat, nlon)`` bool."""
    return np.logical_or.reduce(list(ice_masks(lat_deg, lon_deg, shapefile).values()))
