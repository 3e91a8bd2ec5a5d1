"""Figures of an ensemble's spread (rule ``calibration``, :mod:`gravsep.evaluation.calibrate`).

``spread_maps``: per component, the RMS over the windows of the test year of the ensemble
mean's error beside the RMS of its (calibrated) spread, on one colour scale per component;
where the spread is right the two maps look alike. ``reliability``: per component the
observed coverage of the central intervals against their nominal probability, validation
(raw spread) and test (calibrated spread); a calibrated spread follows the diagonal. Signals in
centimetres of equivalent water height; matplotlib's object interface (no pyplot).
"""

import numpy as np
from matplotlib.figure import Figure

from gravsep.atomic import save_figure
from gravsep.evaluation.calibration import NOMINAL

M_TO_CM = 100.0
STYLE = {"validation": {"color": "tab:orange", "marker": "s", "label": "validation (raw)"},
         "test": {"color": "tab:blue", "marker": "o", "label": "test (calibrated)"}}  # fmt: skip


def _rms_time(cube):
    x = np.asarray(cube, dtype=np.float64)
    return np.sqrt((x * x).mean(axis=-1))


def spread_maps(error, spread, lat, lon, components, out_png, title=""):
    """Maps of the RMS error of the mean beside the RMS spread ``(C, lat, lon, T)`` [m]."""
    n = len(components)
    fig = Figure(figsize=(9.0, 2.3 * n + 0.6), layout="constrained")
    axs = fig.subplots(n, 2, squeeze=False)
    extent = (float(lon[0]), float(lon[-1]), float(lat[-1]), float(lat[0]))
    for c, comp in enumerate(components):
        maps = (_rms_time(error[c]) * M_TO_CM, _rms_time(spread[c]) * M_TO_CM)
        vmax = max(float(np.percentile(np.concatenate([m.ravel() for m in maps]), 99)), 1e-9)
        for ax, values, what in zip(axs[c], maps, ("RMS error of the mean", "RMS spread"),
                                    strict=True):  # fmt: skip
            im = ax.imshow(values, extent=extent, origin="upper", vmin=0, vmax=vmax,
                           cmap="magma_r", aspect="auto")  # fmt: skip
            ax.set_title(f"{comp}: {what}", fontsize=9)
            ax.set_xlabel("longitude [deg]", fontsize=8)
            ax.set_ylabel("latitude [deg]", fontsize=8)
            ax.tick_params(labelsize=7)
        fig.colorbar(im, ax=axs[c].tolist(), label="cm EWH", shrink=0.9)
    fig.suptitle(f"Error and spread, {title}" if title else "Error and spread")
    save_figure(fig, out_png, dpi=110)


def reliability(curves, components, out_png, model="", nominal=NOMINAL):
    """Reliability diagram: ``curves[(split, comp)]`` observed coverage at ``nominal``."""
    n = len(components)
    fig = Figure(figsize=(3.0 * n, 3.4), layout="constrained")
    axs = fig.subplots(1, n, squeeze=False)[0]
    for ax, comp in zip(axs, components, strict=True):
        ax.plot([0, 1], [0, 1], color="0.5", lw=1, ls="--", label="calibrated")
        for split, style in STYLE.items():
            if (split, comp) in curves:
                ax.plot(nominal, curves[(split, comp)], lw=1.3, ms=3, **style)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_title(comp)
        ax.set_xlabel("nominal coverage")
        ax.set_ylabel("observed coverage")
    handles, labels = axs[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3)
    fig.suptitle(f"Reliability of the spread, model {model}" if model else "Reliability")
    save_figure(fig, out_png, dpi=110)
