"""Figures of an evaluated model, from the evaluation HDF5 and the training log.

Every function writes one PNG and uses matplotlib's object interface (no pyplot, no GUI
backend). Signals are shown in centimetres of equivalent water height (cm EWH).
Inputs: the evaluation file (:mod:`gravsep.formats.evaluation`) and the training log
(:mod:`gravsep.formats.training_log`).
"""

import warnings
from pathlib import Path

import matplotlib
import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from gravsep.atomic import save_figure
from gravsep.formats.evaluation import read_evaluation
from gravsep.formats.training_log import read_training_log

SPLITS = ("train", "validation", "test")

M_TO_CM = 100.0
UNIT = "cm EWH"
KINDS = ("truth", "prediction", "error")
STYLE = {
    "truth": {"color": "black", "lw": 1.6, "label": "truth"},
    "prediction": {"color": "tab:blue", "lw": 1.3, "label": "prediction"},
    "error": {"color": "tab:red", "lw": 1.3, "label": "error (prediction - truth)"},
}
#: Figure names, as the keys of :func:`all_figures`' outputs and of the rule's outputs.
FIGURES = ("rms_profiles", "degree_amplitudes", "maps", "component_errors", "training_curves")
COASTLINE = Path("shapefiles/natural_earth/physical/ne_110m_coastline.shp")


def _save(fig, out_png, dpi=110):
    save_figure(fig, out_png, dpi=dpi)


def _title(f, what):
    model = str(f.attrs.get("model", ""))
    year = f.attrs.get("year", None)
    parts = [what]
    if model:
        parts.append(f"model {model}")
    if year is not None:
        parts.append(f"test year {int(year)}")
    return ", ".join(parts)


def _epoch_label(f):
    t = int(f.attrs.get("epoch_time", -1))
    k = int(f.attrs.get("epoch_index", 0))
    if t < 0:
        return f"window {k + 1}"
    return f"window {k + 1} (mid epoch {np.datetime64(t, 's').astype('datetime64[D]')})"


def rms_profiles(evaluation_h5, out_png):
    """RMS of truth, prediction and error along latitude, longitude and time.

    One row per component and one for the sum of components; columns: RMS per latitude
    (over longitude and time), per longitude and per time step (both area-weighted over
    latitude). The row title gives the relative RMS error of the network.

    Parameters
    ----------
    evaluation_h5 : path-like
        Evaluation file of :func:`gravsep.evaluation.evaluate.evaluate`.
    out_png : path-like
        Output PNG.
    """
    f = read_evaluation(evaluation_h5)
    labels = f.labels
    axes_x = {
        "lat": (f.lat, "latitude [°]"),
        "lon": (f.lon, "longitude [° E]"),
        "time": (f.time.astype("datetime64[s]"), "window mid epoch"),
    }
    prof = {a: {k: f.profiles[a][k] * M_TO_CM for k in KINDS} for a in axes_x}
    rel = f.relative_rms.get("unet")
    title = _title(f, "RMS profiles")
    n = len(labels)
    fig = Figure(figsize=(13, 2.4 * n + 1.0), layout="constrained")
    axs = fig.subplots(n, 3, squeeze=False)
    names = {"lat": "along latitude", "lon": "along longitude", "time": "along time"}
    for i, label in enumerate(labels):
        row = label if label != "sum" else "sum of components"
        if rel is not None:
            row += f" (rel. RMS error {100 * rel[i]:.0f} %)"
        for j, a in enumerate(axes_x):
            ax = axs[i, j]
            x, xlabel = axes_x[a]
            for k in KINDS:
                ax.plot(x, prof[a][k][i], **STYLE[k])
            ax.set_title(f"{row}: RMS {names[a]}", fontsize=9)
            ax.set_ylabel(f"RMS [{UNIT}]")
            ax.set_ylim(bottom=0)
            ax.grid(alpha=0.3)
            if i == n - 1:
                ax.set_xlabel(xlabel)
            if a == "lat":
                ax.set_xlim(-90, 90)
            elif a == "lon":
                ax.set_xlim(0, 360)
            else:
                locator = mdates.AutoDateLocator(maxticks=6)
                ax.xaxis.set_major_locator(locator)
                ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    handles, texts = axs[0, 0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside lower center", ncol=3)
    fig.suptitle(title)
    _save(fig, out_png)


def degree_amplitudes(evaluation_h5, out_png):
    """Degree amplitudes of truth, prediction and error at one epoch, per component and sum.

    For regional (non-global) grids, where no spherical-harmonic analysis is done, the figure
    says so instead.

    Parameters
    ----------
    evaluation_h5 : path-like
        Evaluation file of :func:`gravsep.evaluation.evaluate.evaluate`.
    out_png : path-like
        Output PNG.
    """
    f = read_evaluation(evaluation_h5)
    labels = f.labels
    title = _title(f, f"Degree amplitudes at {_epoch_label(f)}")
    if f.degree_amplitudes is None:
        fig = Figure(figsize=(6, 2), layout="constrained")
        ax = fig.subplots()
        ax.set_axis_off()
        ax.text(0.5, 0.5, "No degree amplitudes: the grid is regional.", ha="center")
        fig.suptitle(title, fontsize=9)
        _save(fig, out_png)
        return
    degree = f.degree
    amp = {k: f.degree_amplitudes[k] * M_TO_CM for k in KINDS}
    n = len(labels)
    ncol = min(n, 3)
    nrow = -(-n // ncol)
    fig = Figure(figsize=(4.3 * ncol, 3.2 * nrow + 0.8), layout="constrained")
    axs = fig.subplots(nrow, ncol, squeeze=False)
    sel = degree >= 1
    for i, label in enumerate(labels):
        ax = axs.flat[i]
        for k in KINDS:
            y = np.where(amp[k][i][sel] > 0, amp[k][i][sel], np.nan)
            ax.semilogy(degree[sel], y, **STYLE[k])
        ax.set_title(label if label != "sum" else "sum of components")
        ax.set_xlabel("degree n")
        ax.set_ylabel(f"degree amplitude [{UNIT}]")
        ax.grid(alpha=0.3, which="both")
        ax.set_xlim(1, max(degree[-1], 2))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axs.flat[n:]:
        ax.set_axis_off()
    handles, texts = axs.flat[0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside lower center", ncol=3)
    fig.suptitle(title)
    _save(fig, out_png)


def _configure_cartopy(natural_earth):
    """Point cartopy at local Natural Earth shapes; True if the coastline file is there."""
    import cartopy

    if natural_earth is None:
        return False
    folder = Path(natural_earth)
    cartopy.config["pre_existing_data_dir"] = str(folder)
    return (folder / COASTLINE).is_file()


def _colour_limit(values, percentile=99):
    """Symmetric colour limit: a high percentile of ``|values|``, 1 where that is 0 or NaN."""
    a = np.abs(np.asarray(values, dtype=float))
    a = a[np.isfinite(a)]
    v = float(np.percentile(a, percentile)) if a.size else 0.0
    return v if v > 0 else 1.0


def _cell_edges(centres):
    """Cell edges [degrees] halfway between centres, extrapolated at both ends."""
    c = np.asarray(centres, dtype=float)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    first = c[0] - (mid[0] - c[0])
    last = c[-1] + (c[-1] - mid[-1])
    return np.concatenate([[first], mid, [last]])


def maps(evaluation_h5, out_png, natural_earth=None):
    """Maps of truth, prediction and error per component at one epoch, with coastlines.

    Truth and prediction of a component share one symmetric colour scale (99th percentile of
    their absolute values); the error has its own. Global grids use a Robinson projection,
    regional ones plate carrée. Coastlines come from the local Natural Earth folder
    (``<natural_earth>/shapefiles/natural_earth/physical/ne_110m_coastline.shp``), so nothing
    is downloaded; without that file the maps are drawn without coastlines and a warning.

    Parameters
    ----------
    evaluation_h5 : path-like
        Evaluation file of :func:`gravsep.evaluation.evaluate.evaluate`.
    out_png : path-like
        Output PNG.
    natural_earth : path-like, optional
        Folder with Natural Earth shapes in cartopy's layout (``resources/natural_earth``).
    """
    import cartopy.crs as ccrs

    coast = _configure_cartopy(natural_earth)
    if not coast:
        warnings.warn(
            f"no {COASTLINE} under {natural_earth}; maps without coastlines", stacklevel=2
        )
    f = read_evaluation(evaluation_h5)
    comps = f.attrs["components"]
    glob = bool(f.attrs.get("global", False))
    lat, lon = f.lat, f.lon
    fields = {k: f.maps[k] * M_TO_CM for k in KINDS}
    rel = f.relative_rms.get("unet")
    title = _title(f, f"Maps at {_epoch_label(f)}")
    lat_e = np.clip(_cell_edges(lat), -90, 90)
    lon_e = _cell_edges(lon)
    extent = [lon_e[0], lon_e[-1], min(lat_e[0], lat_e[-1]), max(lat_e[0], lat_e[-1])]
    origin = "upper" if lat[0] > lat[-1] else "lower"
    regrid = int(np.clip(2 * max(lat.size, lon.size), 180, 720))
    if glob:
        proj = ccrs.Robinson(central_longitude=0)
        data_crs = ccrs.PlateCarree()
    else:  # longitudes relative to the box centre, so boxes across 180° E stay whole
        centre = 0.5 * (extent[0] + extent[1])
        proj = data_crs = ccrs.PlateCarree(central_longitude=centre)
        extent = [extent[0] - centre, extent[1] - centre, extent[2], extent[3]]
    n = len(comps)
    fig = Figure(figsize=(15, 2.9 * n + 0.8), layout="constrained")
    axs = np.empty((n, 3), dtype=object)
    for i in range(n):
        for j in range(3):
            axs[i, j] = fig.add_subplot(n, 3, 3 * i + j + 1, projection=proj)
    cmap = matplotlib.colormaps["RdBu_r"]
    for i, comp in enumerate(comps):
        tp = np.concatenate([fields["truth"][i].ravel(), fields["prediction"][i].ravel()])
        vmax = _colour_limit(tp)
        emax = _colour_limit(fields["error"][i])
        meshes = []
        for j, k in enumerate(KINDS):
            ax = axs[i, j]
            v = emax if k == "error" else vmax
            m = ax.imshow(
                fields[k][i],
                transform=data_crs,
                extent=extent,
                origin=origin,
                cmap=cmap,
                vmin=-v,
                vmax=v,
                interpolation="nearest",
                **({"regrid_shape": regrid} if glob else {}),
            )
            meshes.append(m)
            if glob:
                ax.set_global()
            else:
                ax.set_extent(extent, crs=data_crs)
            if coast:
                ax.coastlines(resolution="110m", linewidth=0.5, color="0.2")
            extra = ""
            if k == "error" and rel is not None:
                extra = f" (rel. RMS {100 * rel[i]:.0f} % over the year)"
            ax.set_title(f"{comp}: {k}{extra}", fontsize=9)
        fig.colorbar(meshes[1], ax=list(axs[i, :2]), shrink=0.8, label=f"{comp} [{UNIT}]")
        fig.colorbar(meshes[2], ax=axs[i, 2], shrink=0.8, label=f"{comp} error [{UNIT}]")
    fig.suptitle(title)
    _save(fig, out_png)


def component_errors(evaluation_h5, out_png):
    """RMS errors of single components, pairs and the sum of all, and the normalised version.

    Top: ``RMS(sum of errors)`` per subset [cm EWH]. Bottom: ``RMS(sum of errors) / sum of RMS
    errors``: near 0 the subset's errors cancel (signal assigned to the wrong component), near 1
    they add up (signal missing from the subset's sum).

    Parameters
    ----------
    evaluation_h5 : path-like
        Evaluation file of :func:`gravsep.evaluation.evaluate.evaluate`.
    out_png : path-like
        Output PNG.
    """
    f = read_evaluation(evaluation_h5)
    labels = f.component_errors["subset_labels"]
    values = f.component_errors["subset_rms"] * M_TO_CM
    norm = f.component_errors["subset_normalised"]
    title = _title(f, "Errors of component sums")
    size = np.array([lab.count("+") + 1 for lab in labels])
    colours = {1: "tab:blue", 2: "tab:orange"}
    col = [colours.get(s, "tab:red") for s in size]
    x = np.arange(len(labels))
    fig = Figure(figsize=(max(8, 0.7 * len(labels) + 3), 7), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.bar(x, values, color=col)
    ax1.set_ylabel(f"RMS of summed errors [{UNIT}]")
    ax1.set_title("RMS error of single components (blue), pairs (orange) and the sum (red)")
    ax2.bar(x, norm, color=col)
    ax2.axhline(1.0, color="0.3", lw=0.8, ls="--")
    ax2.set_ylim(0, max(1.05, float(np.nanmax(norm)) * 1.05 if norm.size else 1.05))
    ax2.set_ylabel("RMS(sum of errors) / sum of RMS errors")
    ax2.set_title("Normalised: 0 = errors cancel (mis-assignment), 1 = errors add up")
    for ax, vals, fmt in ((ax1, values, "{:.2f}"), (ax2, norm, "{:.2f}")):
        for xi, v in zip(x, vals, strict=True):
            ax.annotate(fmt.format(v), (xi, v), ha="center", va="bottom", fontsize=7)
        ax.grid(axis="y", alpha=0.3)
    ax2.set_xticks(x, labels, rotation=45, ha="right")
    fig.suptitle(title)
    _save(fig, out_png)


def training_curves(training_log_h5, out_png, model=None):
    """RMS of train, validation and test samples per epoch per component, and the losses.

    Parameters
    ----------
    training_log_h5 : path-like
        Training log (layout in the module docstring).
    out_png : path-like
        Output PNG.
    model : str, optional
        Model name for the title.
    """
    log = read_training_log(training_log_h5)
    comps, best = log["components"], log["best_epoch"]
    curves = {s: log[f"rms_{s}"] * M_TO_CM for s in SPLITS if f"rms_{s}" in log}
    losses = {k: log[k] for k in ("loss", "val_loss") if k in log}
    n = len(comps)
    ncol = min(n + 1, 3)
    nrow = -(-(n + 1) // ncol)
    fig = Figure(figsize=(4.5 * ncol, 3.2 * nrow + 0.8), layout="constrained")
    axs = fig.subplots(nrow, ncol, squeeze=False)
    colours = {"train": "tab:blue", "validation": "tab:orange", "test": "tab:green"}

    def mark_best(ax):
        if best >= 1:
            ax.axvline(best, color="0.3", ls="--", lw=1, label=f"best epoch ({best})")

    for i, comp in enumerate(comps):
        ax = axs.flat[i]
        for s, c in curves.items():
            epochs, ok = np.arange(1, c.shape[0] + 1), np.isfinite(c[:, i])
            sparse = not ok.all()  # training.curve_every: points on the epochs evaluated
            ax.plot(epochs[ok], c[ok, i], color=colours[s], label=s,
                    marker="." if sparse else None)  # fmt: skip
        mark_best(ax)
        ax.set_title(f"{comp}: RMS error per epoch")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"RMS error [{UNIT}]")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    ax = axs.flat[n]
    names = {"loss": "training loss", "val_loss": "validation loss"}
    for k, v in losses.items():
        ax.plot(np.arange(1, v.size + 1), v, label=names[k])
    mark_best(ax)
    finite = np.concatenate([np.asarray(v)[np.isfinite(v)] for v in losses.values()] or [[]])
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 20:
        ax.set_yscale("log")  # losses spanning orders of magnitude
    ax.set_title("Loss per epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (dimensionless)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    for extra in axs.flat[n + 1 :]:
        extra.set_axis_off()
    handles, texts = axs.flat[0].get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside lower center", ncol=len(texts))
    fig.suptitle("Training curves" + (f", model {model}" if model else ""))
    _save(fig, out_png)


def all_figures(evaluation_h5, training_log_h5, outputs, natural_earth=None, model=None):
    """Write every figure.

    Parameters
    ----------
    outputs : mapping
        Keys ``rms_profiles``, ``degree_amplitudes``, ``maps``, ``component_errors``,
        ``training_curves`` -> PNG paths; missing keys are skipped.
    """
    if "rms_profiles" in outputs:
        rms_profiles(evaluation_h5, outputs["rms_profiles"])
    if "degree_amplitudes" in outputs:
        degree_amplitudes(evaluation_h5, outputs["degree_amplitudes"])
    if "maps" in outputs:
        maps(evaluation_h5, outputs["maps"], natural_earth)
    if "component_errors" in outputs:
        component_errors(evaluation_h5, outputs["component_errors"])
    if "training_curves" in outputs:
        training_curves(training_log_h5, outputs["training_curves"], model=model)


def model_comparison(metrics, out_png, split="test", inputs=None, labels=None):
    """Relative RMS error per component of every model and baseline, side by side.

    One bar per model's U-Net on each input it was evaluated on (its own dataset's, and the
    other inputs of ``evaluation.cross``), then each baseline once per input noise (baselines
    depend on the input, not on the model).

    Parameters
    ----------
    metrics : pandas.DataFrame
        The merged metrics table (columns of :data:`gravsep.evaluation.evaluate.CSV_COLUMNS`).
    out_png : path-like
    split : str
        ``test`` or ``validation``.
    inputs : list of str, optional
        The input noises shown (default all).
    labels : dict, optional
        Input noise -> name in the legend (default the noise id).
    """
    df = metrics[(metrics["split"] == split) & (metrics["component"] != "sum")]
    if "input_noise" not in df:
        df = df.assign(input_noise="none")
    if inputs is not None:
        df = df[df["input_noise"].isin(list(inputs))]
    keys = ["model", "input_noise", "method", "component"]
    df = df.groupby(keys, sort=False)["rel_rms"].mean().reset_index()
    components = list(dict.fromkeys(df["component"]))
    bars = _comparison_bars(df, labels or {})
    fig = Figure(figsize=(1.6 + 1.4 * len(components) + 0.25 * len(bars), 4.2))
    ax = fig.add_subplot()
    width = 0.8 / max(len(bars), 1)
    x = np.arange(len(components))
    for k, (label, rows) in enumerate(bars):
        values = [rows.loc[rows.component == c, "rel_rms"].mean() for c in components]
        hatch = None if label.startswith("U-Net") else "//"
        ax.bar(x + (k - (len(bars) - 1) / 2) * width, values, width, label=label, hatch=hatch)
    ax.axhline(1.0, color="0.3", lw=0.8, ls="--", label="zero baseline")
    ax.set_xticks(x, components)
    ax.set_ylabel("relative RMS error (RMS(pred - true) / RMS(true))")
    ax.set_title(f"Models and baselines, {split} year(s)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    fig.subplots_adjust(right=0.68)
    _save(fig, out_png)


def _comparison_bars(df, labels):
    """``(label, rows)`` of every bar of :func:`model_comparison`."""
    noises = list(dict.fromkeys(df["input_noise"]))

    def suffix(noise):
        if len(noises) == 1:
            return ""
        return f" ({labels.get(noise, 'clean' if noise == 'none' else noise)} input)"

    runs = list(dict.fromkeys(zip(df["model"], df["input_noise"], strict=True)))
    bars = []
    for model, noise in runs:
        rows = df[(df.model == model) & (df.input_noise == noise) & (df.method == "unet")]
        bars.append((f"U-Net {model}{suffix(noise)}", rows))
    for noise in noises:
        first = next(m for m, n in runs if n == noise)
        here = df[(df.model == first) & (df.input_noise == noise)]
        for method in dict.fromkeys(here["method"]):
            if method not in ("unet", "zero"):
                bars.append((f"{method}{suffix(noise)}", here[here.method == method]))
    return bars
