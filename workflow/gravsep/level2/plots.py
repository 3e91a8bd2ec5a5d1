"""Rule ``apply_figures``: maps of the separated fields and the regional time series.

Read from the products (``separated.nc``, ``regional_means.csv``), so the figures show what
the files hold. Matplotlib's object interface (no pyplot); coastlines are the Natural Earth
1:110m coastline polylines (read with pyshp) drawn on plain latitude-longitude axes.
Signals in cm of equivalent water height.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

M_TO_CM = 100.0
COASTLINE = Path("shapefiles/natural_earth/physical/ne_110m_coastline.shp")
COLOURS = ("tab:blue", "tab:green", "tab:cyan", "tab:brown", "tab:purple", "tab:olive")


def _coastlines(natural_earth):
    """Coastline polylines ``[(lon 0..360, lat)]``, split where they cross 0/360 E."""
    path = Path(natural_earth) / COASTLINE if natural_earth else None
    if path is None or not path.exists():
        return []
    import shapefile as pyshp

    lines = []
    with pyshp.Reader(str(path)) as reader:
        for shape in reader.shapes():
            pts = np.asarray(shape.points)
            for part in np.split(pts, shape.parts[1:]):
                lon = part[:, 0] % 360.0
                cut = np.flatnonzero(np.abs(np.diff(lon)) > 180.0) + 1
                for seg_lon, seg_lat in zip(np.split(lon, cut), np.split(part[:, 1], cut),
                                            strict=True):  # fmt: skip
                    lines.append((seg_lon, seg_lat))
    return lines


def _panel(ax, lon, lat, field, limit, title, coast):
    mesh = ax.pcolormesh(lon, lat, field, cmap="RdBu_r", vmin=-limit, vmax=limit, shading="nearest")
    for x, y in coast:
        ax.plot(x, y, color="0.25", lw=0.4)
    ax.set_title(title, fontsize=8)
    ax.set_xlim(lon.min(), lon.max())
    ax.set_ylim(lat.min(), lat.max())
    ax.tick_params(labelsize=6)
    return mesh


def maps(netcdf, out_png, natural_earth=None, index=None):
    """Maps of one month (default the middle one): the input, every separated component and
    the residual; with the truth, a second row of the true components and the errors."""
    import xarray as xr

    with xr.open_dataset(netcdf, decode_times=False) as ds:
        k = len(ds.time) // 2 if index is None else int(index)
        comps = str(ds.attrs["components"]).split()
        lat, lon = ds.lat.values, ds.lon.values
        top = [("input", ds["input"][k].values), *((f"separated {c}",
               ds[f"prediction_{c}"][k].values) for c in comps),
               ("residual", ds["residual"][k].values)]  # fmt: skip
        truth = "truth_" + comps[0] in ds
        bottom = []
        if truth:
            for c in comps:
                bottom += [(f"true {c}", ds[f"truth_{c}"][k].values)]
            bottom += [(f"error {c}", (ds[f"prediction_{c}"][k] - ds[f"truth_{c}"][k]).values)
                       for c in comps[:1]]  # fmt: skip
        month = np.datetime64(int(ds.time.values[k] * 86400), "s").astype("datetime64[M]")
    rows = [top] + ([bottom] if bottom else [])
    limit = np.nanpercentile(np.abs(top[0][1]), 99) * M_TO_CM or 1.0
    coast = _coastlines(natural_earth)
    ncol = max(len(r) for r in rows)
    fig = Figure(figsize=(2.6 * ncol, 1.6 * len(rows) + 0.6), layout="constrained")
    axes = fig.subplots(len(rows), ncol, squeeze=False)
    for i, row in enumerate(rows):
        for j in range(ncol):
            if j >= len(row):
                axes[i, j].set_axis_off()
                continue
            mesh = _panel(axes[i, j], lon, lat, row[j][1] * M_TO_CM, limit, row[j][0], coast)
    fig.colorbar(mesh, ax=axes, shrink=0.8, label="cm EWH")
    fig.suptitle(f"Separated Level-2 fields, {month}", fontsize=10)
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)


def regional_series(csv, out_png):
    """One panel per region: the input, the separated components (solid) and the truth
    (dashed, where known), monthly regional means."""
    df = pd.read_csv(csv)
    regions = list(dict.fromkeys(df["region"]))
    skip = {"region", "month", "start", "end", "sum", "residual", "input"}
    comps = [c for c in df.columns if c not in skip and not c.startswith("truth_")]
    ncol = 2
    nrow = -(-len(regions) // ncol)
    fig = Figure(figsize=(9, 2.4 * nrow + 0.5), layout="constrained")
    axes = fig.subplots(nrow, ncol, squeeze=False).ravel()
    for ax, region in zip(axes, regions, strict=False):
        sub = df[df["region"] == region]
        t = pd.to_datetime(sub["month"])
        ax.plot(t, sub["input"] * M_TO_CM, color="black", lw=1.6, label="input")
        for colour, comp in zip(COLOURS, comps, strict=False):
            ax.plot(t, sub[comp] * M_TO_CM, color=colour, lw=1.2, label=comp)
            if f"truth_{comp}" in sub:
                ax.plot(t, sub[f"truth_{comp}"] * M_TO_CM, color=colour, lw=1.0, ls="--")
        ax.set_title(region, fontsize=9)
        ax.set_ylabel("cm EWH", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(regions) :]:
        ax.set_axis_off()
    axes[0].legend(fontsize=7, ncol=2, title="dashed: truth" if "truth_" + comps[0] in df else None)
    fig.suptitle("Monthly regional means", fontsize=10)
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
