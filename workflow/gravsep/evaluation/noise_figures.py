"""Figures of the observation noise: a realisation beside the signals, errors against its scale.

Both use matplotlib's object interface; maps in cm of equivalent water height (cm EWH).
"""

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from gravsep.atomic import save_figure
from gravsep.constants import R_EARTH
from gravsep.formats.samples import Samples
from gravsep.harmonics.filtering import gaussian_weights, half_width_km
from gravsep.harmonics.grids import analyze, degree_amplitudes, is_global
from gravsep.harmonics.noise import degree_amplitudes as noise_degree_amplitudes
from gravsep.harmonics.units import ewh_factors

M_TO_CM = 100.0
COASTLINE = Path("shapefiles/natural_earth/physical/ne_110m_coastline.shp")


def _one_window(samples):
    """Noise and targets ``(lat, lon)``, ``(C, lat, lon)`` [m] of the middle test window."""
    years = samples.split_years("test") or samples.years
    year = years[0]
    target = samples.cube(year, "target")
    noise = samples.cube(year, "input") - target.sum(axis=0)
    k = target.shape[-1] // 2
    days = (
        float(np.median(np.diff(samples.time(year)))) / 86400.0 if samples.numt(year) > 1 else 7.0
    )
    return year, k, noise[..., k], target[..., k], days


def _expected(samples, nmax, days):
    """Degree amplitudes [m EWH] the noise definition gives after the dataset's filter."""
    noise = samples.noise()
    if noise.get("model") != "grace_like":
        return None
    nmax_flt = int(samples.attrs.get("nmax_flt", 0))
    w = gaussian_weights(nmax, half_width_km(nmax_flt)) if nmax_flt else np.ones(nmax + 1)
    return w * ewh_factors(nmax) * noise_degree_amplitudes(nmax, noise, days) / R_EARTH


def noise_realisation(dataset_h5, out_png, natural_earth=None):
    """Map of one noise realisation (input minus the sum of the targets) beside the components'
    maps at the same window, and their degree amplitudes (global grids), with the degree
    amplitudes the noise definition gives after the dataset's filter.

    Parameters
    ----------
    dataset_h5 : path-like
        A dataset with noise (:mod:`gravsep.formats.samples`).
    out_png : path-like
    natural_earth : path-like, optional
        Natural Earth folder for coastlines (cartopy layout).
    """
    with Samples(dataset_h5) as s:
        year, k, noise, target, days = _one_window(s)
        lat, lon, comps, nid = s.lat, s.lon, s.components, s.noise_id
        glob = is_global(lat, lon)
        expected = _expected(s, lat.size // 2 - 1, days) if glob else None
    fields = [("noise", noise)] + list(zip(comps, target, strict=True))
    fig = Figure(figsize=(3.3 * len(fields), 6.2), layout="constrained")
    axs = fig.subplots(2, len(fields), squeeze=False)
    for ax, (name, field) in zip(axs[0], fields, strict=True):
        _map(ax, lat, lon, field * M_TO_CM, name, natural_earth)
    ax = fig.add_subplot(2, 1, 2) if glob else None
    for a in axs[1]:
        a.set_axis_off()
    if ax is not None:
        for name, field in fields:
            amp = degree_amplitudes(analyze(field)) * M_TO_CM
            style = {"color": "black", "lw": 2} if name == "noise" else {"lw": 1.2}
            ax.semilogy(np.arange(1, amp.size), np.where(amp[1:] > 0, amp[1:], np.nan),
                        label=name, **style)  # fmt: skip
        if expected is not None:
            ax.semilogy(np.arange(1, expected.size), expected[1:] * M_TO_CM, "k--", lw=1,
                        label="noise model (expected)")  # fmt: skip
        ax.set_xlabel("degree n")
        ax.set_ylabel("degree amplitude [cm EWH]")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small", ncol=3)
    fig.suptitle(f"Input noise {nid} and the signals, test year {year}, time step {k + 1} "
                 f"({days:.0f}-day windows)")  # fmt: skip
    save_figure(fig, out_png, dpi=100)


def _map(ax, lat, lon, values, title, natural_earth):
    lim = float(np.percentile(np.abs(values), 99)) or 1.0
    extent = [lon[0], lon[-1], lat[-1], lat[0]]
    im = ax.imshow(values, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=extent, aspect="auto")
    coast = Path(natural_earth or "") / COASTLINE
    if natural_earth is not None and coast.is_file():
        _coastlines(ax, coast)
    ax.set_title(title)
    ax.figure.colorbar(im, ax=ax, orientation="horizontal", label="cm EWH", shrink=0.9)


def _coastlines(ax, path):
    """Coastline polylines (longitudes 0..360) from the Natural Earth shapefile."""
    import shapefile  # pyshp, a cartopy dependency

    with shapefile.Reader(str(path)) as shp:
        for shape in shp.shapes():
            pts = np.asarray(shape.points)
            for part in np.split(pts, shape.parts[1:]):
                lon = np.mod(part[:, 0], 360.0)
                cut = np.flatnonzero(np.abs(np.diff(lon)) > 180) + 1
                for seg_lon, seg_lat in zip(np.split(lon, cut), np.split(part[:, 1], cut),
                                            strict=True):  # fmt: skip
                    ax.plot(seg_lon, seg_lat, color="0.3", lw=0.4)


def error_against_noise(metrics, scales, models, out_png, split="test"):
    """Relative RMS error per component against the noise scale.

    Lines: the U-Net of every model in ``models``, and the baselines (the classical chain
    ``filter_pca`` among them), at each scale of the noise sweep.

    Parameters
    ----------
    metrics : pandas.DataFrame
        The merged metrics (with ``input_noise``).
    scales : dict
        Noise id -> scale (``none`` for 0).
    models : list of str
    out_png : path-like
    """
    df = metrics[(metrics["split"] == split) & metrics["input_noise"].isin(list(scales))]
    df = df[df["component"] != "sum"].assign(scale=lambda d: d["input_noise"].map(scales))
    comps = list(dict.fromkeys(df["component"]))
    fig = Figure(figsize=(3.4 * len(comps), 3.6), layout="constrained")
    axs = fig.subplots(1, len(comps), squeeze=False)[0]
    lines = [(f"U-Net {m}", (df.model == m) & (df.method == "unet")) for m in models]
    first = df[df.model == models[0]]
    lines += [(b, (df.model == models[0]) & (df.method == b))
              for b in dict.fromkeys(first["method"]) if b not in ("unet", "zero")]  # fmt: skip
    for ax, comp in zip(axs, comps, strict=True):
        for label, sel in lines:
            rows = df[sel & (df.component == comp)].groupby("scale")["rel_rms"].mean()
            style = "-o" if label.startswith("U-Net") else "--s"
            ax.plot(rows.index, rows.values, style, label=label, ms=4)
        ax.axhline(1.0, color="0.3", lw=0.8, ls=":")
        ax.set_title(comp)
        ax.set_xlabel("noise scale (1 = calibrated GRACE-like)")
        ax.set_ylabel("relative RMS error")
        ax.grid(alpha=0.3)
    axs[0].legend(fontsize="small")
    fig.suptitle(f"Errors against the input noise, {split} year(s)")
    save_figure(fig, out_png, dpi=100)
