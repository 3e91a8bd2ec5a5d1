"""Observation errors of a GRACE-type mission, as spherical-harmonic noise realisations.

Part of a dataset definition (``dataset.noise``): the noise is added to the summed input in
the spherical-harmonic domain, before the Gaussian filter, as it is in real data; the targets
stay the clean components. Two kinds:

``grace_like``
    A parametric model. The error degree amplitude in geoid height grows exponentially,
    ``E_n = E_30 * 10^((n - 30) / D)`` [m] for ``n >= nmin``, for fields averaged over
    ``reference_days``; over a window of ``T`` days it is scaled by ``sqrt(reference_days / T)``
    (errors of independent days average down as 1/sqrt(T)). Each coefficient of degree n has
    the standard deviation ``E_n / sqrt(2n+1) / R`` (Stokes, dimensionless). The stripes:
    coefficients of the same order m and the same parity of degree are correlated, as an AR(1)
    sequence along n = m+p, m+p+2, ... with lag-one correlation
    ``rho_m = stripe_correlation * (1 - exp(-m / stripe_order))`` (weak at low orders), the
    C and S coefficients independently. ``stripe_correlation: 0`` gives white noise with the
    same spectrum. Defaults and their calibration: ``docs/noise.md``.
``files``
    Realisations read from a folder of ICGEM files (for example differences between two
    solutions of the same month), one per window, assigned to windows by a seeded
    permutation; their degree must be the data's.

Realisations are independent between windows and reproducible: ``grace_like`` draws depend on
the seed and the window's start time only, whatever years a dataset holds; ``files`` are
assigned by the window's place in the dataset's series. ``scale`` multiplies the noise.
"""

import hashlib
import json
from pathlib import Path

import numpy as np

from gravsep.constants import R_EARTH

#: Noise kinds of ``dataset.noise.model``.
MODELS = ("none", "grace_like", "files")


def active(noise):
    """Whether a noise definition adds anything (a model other than ``none``, scale > 0)."""
    return bool(noise) and noise.get("model", "none") != "none" and noise.get("scale", 1) > 0


#: Keys of a noise definition that shape training only (the bank), not the input.
TRAINING_ONLY = ("augment", "bank_size")


def noise_id(noise):
    """Short, stable name of the noise an input holds: ``none`` or ``<model>-<hash of 8>``.

    The keys :data:`TRAINING_ONLY` are left out: a dataset with and one without an
    augmentation bank hold the same input and share the id.
    """
    if not active(noise):
        return "none"
    blob = json.dumps({k: v for k, v in noise.items() if k not in TRAINING_ONLY}, sort_keys=True)
    return f"{noise['model']}-{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


def degree_amplitudes(nmax, noise, window_days):
    """Error degree amplitudes ``E_n`` of the ``grace_like`` model [m of geoid height].

    Parameters
    ----------
    nmax : int
    noise : dict
        ``degree_amplitude_30`` [mm of geoid at degree 30, for ``reference_days``],
        ``growth_degrees`` (degrees per factor 10), ``nmin``, ``reference_days``, ``scale``.
    window_days : float
        Length of the averaging window [days].

    Returns
    -------
    numpy.ndarray
        ``(nmax+1,)``; zero below ``nmin``.
    """
    n = np.arange(nmax + 1, dtype=float)
    e = 1e-3 * noise["degree_amplitude_30"] * 10.0 ** ((n - 30.0) / noise["growth_degrees"])
    e *= np.sqrt(noise["reference_days"] / float(window_days)) * noise["scale"]
    e[: int(noise["nmin"])] = 0.0
    return e


def coefficient_sigmas(nmax, noise, window_days, radius=R_EARTH):
    """Standard deviation of every Stokes coefficient ``(N+1,)`` per degree (dimensionless)."""
    n = np.arange(nmax + 1, dtype=float)
    return degree_amplitudes(nmax, noise, window_days) / np.sqrt(2.0 * n + 1.0) / radius


def stripe_correlations(nmax, noise):
    """Lag-one correlation ``rho_m`` along same-order, same-parity degrees, per order."""
    m = np.arange(nmax + 1, dtype=float)
    rho = noise["stripe_correlation"] * (1.0 - np.exp(-m / noise["stripe_order"]))
    return np.clip(rho, 0.0, 0.999)


def grace_like(nmax, noise, window_days, rng):
    """One ``grace_like`` realisation ``(2, N+1, N+1)`` [Stokes, dimensionless].

    The AR(1) sequences are drawn with unit variance along each order-parity chain, so every
    coefficient keeps the variance of its degree and neighbours in the chain have correlation
    ``rho_m``.
    """
    sigma = coefficient_sigmas(nmax, noise, window_days)
    rho = stripe_correlations(nmax, noise)
    white = rng.standard_normal((2, nmax + 1, nmax + 1))
    out = np.zeros_like(white)
    for m in range(nmax + 1):
        r, tail = rho[m], np.sqrt(1.0 - rho[m] ** 2)
        for p in (0, 1):
            degrees = np.arange(m + p, nmax + 1, 2)
            if degrees.size == 0:
                continue
            chain = white[:, degrees, m]
            z = np.empty_like(chain)
            z[:, 0] = chain[:, 0]
            for k in range(1, degrees.size):
                z[:, k] = r * z[:, k - 1] + tail * chain[:, k]
            out[:, degrees, m] = z * sigma[degrees]
    out[1, :, 0] = 0.0  # no S_n0
    return out


def _window_rng(seed, start_seconds):
    return np.random.default_rng([int(seed), int(start_seconds) // 3600 + (1 << 40)])


class NoiseSource:
    """The noise of a dataset definition, window by window.

    Parameters
    ----------
    noise : dict
        The ``dataset.noise`` section (schema defaults filled in).
    nmax : int
        Degree of the data.
    """

    def __init__(self, noise, nmax):
        self.noise, self.nmax = dict(noise), int(nmax)
        self.files = None
        if self.noise["model"] == "files":
            self.files = noise_files(self.noise["folder"])
        elif self.noise["model"] != "grace_like":
            raise ValueError(f"dataset.noise.model: {self.noise['model']!r} adds no noise")

    def window(self, start_seconds, end_seconds, index=None):
        """The realisation of one window ``(2, N+1, N+1)`` [Stokes].

        ``index`` (the window's place in the whole series) picks the file in ``files`` mode.
        """
        if self.files is None:
            days = (int(end_seconds) - int(start_seconds)) / 86400.0
            return grace_like(self.nmax, self.noise, days, _window_rng(self.noise["seed"],
                                                                       start_seconds))  # fmt: skip
        return self.noise["scale"] * self.file_realisation(index)

    def file_realisation(self, index):
        """The ICGEM file assigned to window ``index`` (a seeded permutation of the files)."""
        from gravsep.formats.icgem import read_icgem

        order = np.random.default_rng(int(self.noise["seed"])).permutation(len(self.files))
        path = self.files[order[int(index) % len(self.files)]]
        cs, _ = read_icgem(path, nmax=self.nmax)
        return cs

    def check_count(self, n_windows):
        """Refuse a ``files`` folder with fewer realisations than the dataset has windows."""
        if self.files is not None and len(self.files) < n_windows:
            raise ValueError(
                f"dataset.noise.folder {self.noise['folder']}: {len(self.files)} ICGEM files, "
                f"but the dataset has {n_windows} windows (one realisation each)"
            )

    def bank(self, size, window_days, indices=None):
        """``size`` realisations for augmentation ``(K, 2, N+1, N+1)``, seeded apart.

        In ``files`` mode the bank holds the files of the windows ``indices`` (the training
        windows: the files of validation and test windows never reach training), at most
        ``size`` of them.
        """
        rng = np.random.default_rng([int(self.noise["seed"]), 7919])
        if self.files is not None:
            pool = np.asarray(sorted(indices if indices is not None else range(len(self.files))))
            picks = rng.permutation(pool)[:size]
            return np.stack([self.noise["scale"] * self.file_realisation(i) for i in picks])
        return np.stack([grace_like(self.nmax, self.noise, window_days, rng)
                         for _ in range(int(size))])  # fmt: skip


def noise_files(folder):
    """The realisation files of a ``files`` noise folder, sorted (hidden files left out)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"dataset.noise.folder: {folder} is not a folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ValueError(f"dataset.noise.folder: {folder} holds no ICGEM files")
    return files
