"""Figures of the synthetic Earth System Model: component maps and degree amplitudes.

Both figures describe one year (default: the model's first) with that year's mean field
removed, as the pipeline sees the data after its yearly-mean subtraction. Units are EWH:
centimetres for A, O, H, I and millimetres for the small S.
"""

from pathlib import Path

import numpy as np

from gravsep.atomic import save_figure
from gravsep.constants import LETTERS
from gravsep.harmonics.units import stokes_to_ewh
from gravsep.synthetic.model import LETTER_ORDER, epoch_coefficients, grid_modes, model_epochs

#: Display unit per letter: (name, factor from metres).
UNITS = {"A": ("cm", 100.0), "O": ("cm", 100.0), "H": ("cm", 100.0), "I": ("cm", 100.0),
         "S": ("mm", 1000.0)}  # fmt: skip


def _setup_cartopy(natural_earth):
    """Point cartopy at the shipped Natural Earth shapes so that it never downloads."""
    import cartopy

    if natural_earth is not None:
        cartopy.config["pre_existing_data_dir"] = str(Path(natural_earth).resolve())


def _year_slice(model, year):
    epochs = model_epochs([year])
    i0 = int(np.searchsorted(model.epochs, epochs[0]))
    return epochs, slice(i0, i0 + epochs.size)


def year_fields(model, letter, year=None, epoch=None, dim=None):
    """Snapshot and RMS of one letter over a year, about the year's mean [m of EWH].

    Parameters
    ----------
    model : gravsep.synthetic.model.SyntheticModel
    letter : str
    year : int, optional
        Default: the first year of the model.
    epoch : numpy.datetime64, optional
        Snapshot epoch; default 1 October 00 UTC of ``year`` (a quarter year after
        mid-year, so that trends show after the removal of the year mean).
    dim : int, optional
        Grid size (DH, sampling 1); default ``4*(nmax+1)``.

    Returns
    -------
    snapshot, rms : numpy.ndarray
        ``(dim, dim)`` EWH [m]: the field at ``epoch`` minus the year's mean, and the RMS over
        the year's epochs about that mean.
    """
    year = model.years[0] if year is None else int(year)
    epochs, sel = _year_slice(model, year)
    if epoch is None:
        epoch = np.datetime64(f"{year:04d}-10-01T00:00:00", "s")
    grids = grid_modes(model, letter, dim)
    k = grids.shape[0]
    flat = grids.reshape(k, -1)
    series = model.components[letter].series[sel]
    mean = series.mean(axis=0)
    anom = series - mean
    i = int(np.searchsorted(epochs, np.datetime64(epoch, "s")))
    if i >= epochs.size or epochs[i] != np.datetime64(epoch, "s"):
        raise ValueError(f"epoch {epoch} is not an epoch of year {year}")
    snapshot = anom[i] @ flat
    cov = anom.T @ anom / anom.shape[0]
    rms = np.sqrt(np.clip(((cov @ flat) * flat).sum(axis=0), 0.0, None))
    shape = grids.shape[1:]
    return snapshot.reshape(shape), rms.reshape(shape)


def _edges(dim):
    from gravsep.harmonics.grids import lat_lon

    lat, lon = lat_lon(dim)
    d = 180.0 / dim
    lat_e = np.clip(np.append(lat + d / 2.0, lat[-1] - d / 2.0), -90.0, 90.0)
    lon_e = np.append(lon, 360.0) - d  # longitude spacing is 2 d
    return lat_e, lon_e


def plot_component_maps(model, path, natural_earth=None, year=None, dim=None, letters=None):
    """One row per letter: snapshot (1 October) and RMS over the year, both about the year mean.

    Parameters
    ----------
    model : gravsep.synthetic.model.SyntheticModel
    path : path-like
        PNG to write.
    natural_earth : path-like, optional
        Folder with Natural Earth shapes in cartopy's layout (for offline coastlines).
    year : int, optional
        Default: the first year of the model.
    dim : int, optional
        Grid size; default ``4*(nmax+1)``.
    letters : iterable of str, optional
        Default: every letter of the model.
    """
    import matplotlib

    matplotlib.use("Agg")
    import cartopy.crs as ccrs
    import matplotlib.pyplot as plt

    _setup_cartopy(natural_earth)
    year = model.years[0] if year is None else int(year)
    letters = [
        c for c in LETTER_ORDER if c in model.components and (letters is None or c in letters)
    ]
    dim = 4 * (model.nmax + 1) if dim is None else int(dim)
    lat_e, lon_e = _edges(dim)
    proj = ccrs.Robinson(central_longitude=0.0)
    fig, axes = plt.subplots(
        len(letters), 2, figsize=(11, 2.7 * len(letters)), subplot_kw={"projection": proj},
        squeeze=False,
    )  # fmt: skip
    for row, letter in zip(axes, letters, strict=True):
        unit, factor = UNITS[letter]
        snap, rms = year_fields(model, letter, year=year, dim=dim)
        snap, rms = snap * factor, rms * factor
        vmax = float(np.percentile(np.abs(snap), 99.5)) or 1.0
        panels = [
            (snap, "RdBu_r", -vmax, vmax, f"{year}-10-01 00 UTC minus {year} mean"),
            (rms, "viridis", 0.0, float(np.percentile(rms, 99.5)) or 1.0, f"RMS over {year}"),
        ]
        for ax, (data, cmap, vmin, vmax_, title) in zip(row, panels, strict=True):
            mesh = ax.pcolormesh(
                lon_e, lat_e, data, cmap=cmap, vmin=vmin, vmax=vmax_,
                transform=ccrs.PlateCarree(), shading="flat", rasterized=True,
            )  # fmt: skip
            ax.coastlines(resolution="110m", linewidth=0.5, color="k")
            ax.set_global()
            ax.set_title(f"{letter} ({LETTERS[letter]}): {title}", fontsize=9)
            bar = fig.colorbar(mesh, ax=ax, orientation="vertical", shrink=0.8, pad=0.02)
            bar.set_label(f"EWH [{unit}]", fontsize=8)
            bar.ax.tick_params(labelsize=7)
    fig.suptitle(
        f"Synthetic Earth System Model (seed {model.seed}, degree {model.nmax})", fontsize=11
    )
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def degree_amplitude_rms(model, letter, year=None, remove_mean=True):
    """Degree amplitudes [m of EWH] of the RMS over a year's epochs.

    Returns
    -------
    numpy.ndarray
        ``(N+1,)``: ``sqrt(sum_m mean_t(C_nm(t)^2 + S_nm(t)^2))`` of the EWH coefficients,
        about the year's mean if ``remove_mean``.
    """
    year = model.years[0] if year is None else int(year)
    _, cs = epoch_coefficients(model, letter, year, unit="stokes")
    if remove_mean:
        cs = cs - cs.mean(axis=0)
    ewh = stokes_to_ewh(cs)
    return np.sqrt((ewh**2).mean(axis=0).sum(axis=(0, 2)))


def plot_degree_amplitudes(model, path, year=None):
    """Degree amplitudes of every letter (log scale, mm of EWH), about and with the year mean."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    year = model.years[0] if year is None else int(year)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    n = np.arange(model.nmax + 1)
    colors = {"A": "tab:blue", "O": "tab:cyan", "H": "tab:green", "I": "tab:purple",
              "S": "tab:brown"}  # fmt: skip
    for letter in LETTER_ORDER:
        if letter not in model.components:
            continue
        about = degree_amplitude_rms(model, letter, year, remove_mean=True) * 1000.0
        full = degree_amplitude_rms(model, letter, year, remove_mean=False) * 1000.0
        ax.semilogy(n[1:], about[1:], "-", color=colors[letter],
                    label=f"{letter} ({LETTERS[letter]})")  # fmt: skip
        ax.semilogy(n[1:], full[1:], ":", color=colors[letter], linewidth=1)
    ax.set_xlabel("degree n")
    ax.set_ylabel("degree amplitude of the RMS [mm EWH]")
    ax.set_title(
        f"Synthetic model {year}: solid about the {year} mean, dotted with it", fontsize=10
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.set_xlim(1, model.nmax)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_figure(fig, path, dpi=110)
    plt.close(fig)
