"""The five letters of the synthetic model as spatial modes and time series.

Each letter is made by one generator (:func:`letter_fields` chooses it): a set of K fields of
equivalent water height (EWH) [m] on the fine Driscoll-Healy grid of :class:`Grid`
(``4*(nmax+1)`` points a side, with the Natural Earth land, ocean and ice masks and area
weights), and K dimensionless time series over all epochs of the model (AR(1) processes,
harmonics, trends, steps). :meth:`Grid.to_stokes` turns the fields into Stokes modes.
``docs/synthetic-model.md`` describes the physics of every letter.

The generators draw their random numbers only from the generators they are given (spatial
patterns, time series, and for S an event catalogue), in a fixed order, so the same streams
give the same fields and series.
"""

import numpy as np

from gravsep.constants import EPOCH_HOURS
from gravsep.harmonics.filtering import gaussian_weights
from gravsep.harmonics.grids import analyze, lat_lon, synthesize
from gravsep.harmonics.units import ewh_to_stokes
from gravsep.synthetic.landmask import ice_masks, land_mask

#: Length of the seasonal cycle [days].
YEAR_DAYS = 365.25
#: Origin of the harmonic time series (day 0 of the seasonal phase).
T_ORIGIN = np.datetime64("2000-01-01T00:00:00", "s")

_STEPS_PER_DAY = 24 // EPOCH_HOURS


# --------------------------------------------------------------------------------------------
# grid helpers


class Grid:
    """The fine DH grid on which modes are built, with its masks and area weights.

    Parameters
    ----------
    nmax : int
        Maximum degree of the modes; the grid has ``dim = 4*(nmax+1)`` points a side
        (twice the resolution the degree needs) and resolves degrees up to ``dim/2 - 1``.
    shapefile : path-like, optional
        Natural Earth land polygons (default: the shipped 1:110m file).

    Attributes
    ----------
    lat, lon : numpy.ndarray
        ``(dim,)`` latitudes and longitudes of the grid [degrees]; ``lat2``, ``lon2`` the
        ``(dim, dim)`` meshes.
    weight : numpy.ndarray
        ``(dim, dim)`` area weights (sum 1).
    land, ocean, sheets, hydro : numpy.ndarray
        ``(dim, dim)`` bool masks: land, sea, the Greenland and Antarctic ice sheets, land
        outside the ice sheets.
    ice : dict
        Ice region name -> ``(dim, dim)`` bool mask (:func:`gravsep.synthetic.landmask.ice_masks`).
    """

    def __init__(self, nmax, shapefile=None):
        self.nmax = int(nmax)
        self.dim = 4 * (self.nmax + 1)
        self.lmax = self.dim // 2 - 1
        self.lat, self.lon = lat_lon(self.dim)
        self.lat2, self.lon2 = np.meshgrid(self.lat, self.lon, indexing="ij")
        cosl = np.cos(np.deg2rad(self.lat))
        self.weight = np.repeat((cosl / (cosl.sum() * self.dim))[:, None], self.dim, axis=1)
        self.land = land_mask(self.lat, self.lon, shapefile)
        self.ocean = ~self.land
        self.ice = ice_masks(self.lat, self.lon, shapefile)
        self.sheets = self.ice["greenland"] | self.ice["antarctica_west"]
        self.sheets |= self.ice["antarctica_east"]
        self.hydro = self.land & ~self.sheets

    def mean(self, f, mask=None):
        """Area-weighted mean of ``f`` (over ``mask``)."""
        w = self.weight if mask is None else self.weight * mask
        return float((f * w).sum() / w.sum())

    def rms(self, f, mask=None):
        """Area-weighted RMS of ``f`` (over ``mask``)."""
        return float(np.sqrt(self.mean(f**2, mask)))

    def random_field(self, rng, power, nmin=1, nmax_gen=None):
        """Gaussian random field with degree variances ~ n^-power, unit global RMS.

        All ``(2, L+1, L+1)`` normal numbers are drawn (fixed count), then shaped.
        """
        lmax = self.lmax
        z = rng.standard_normal((2, lmax + 1, lmax + 1))
        n = np.arange(lmax + 1, dtype=float)
        top = lmax if nmax_gen is None else min(int(nmax_gen), lmax)
        sd = np.zeros(lmax + 1)
        sel = (n >= nmin) & (n <= top)
        sd[sel] = np.sqrt(n[sel] ** (-float(power)) / (2.0 * n[sel] + 1.0))
        nn, mm = np.meshgrid(n, n, indexing="ij")
        z *= sd[:, None] * (mm <= nn)
        z[1, :, 0] = 0.0
        g = synthesize(z, self.dim)
        return g / self.rms(g)

    def distance_km(self, lat0, lon0):
        """Great-circle distance [km] of every grid point from (lat0, lon0) [degrees]."""
        p1, p2 = np.deg2rad(self.lat2), np.deg2rad(lat0)
        dl = np.deg2rad(self.lon2 - lon0)
        c = np.sin(p1) * np.sin(p2) + np.cos(p1) * np.cos(p2) * np.cos(dl)
        return 6371.0 * np.arccos(np.clip(c, -1.0, 1.0))

    def compensate(self, f):
        """Add a uniform ocean layer holding the opposite of the mass of ``f`` (f zero at sea)."""
        return f - (f * self.weight).sum() / (self.weight * self.ocean).sum() * self.ocean

    def to_stokes(self, fields, smooth_km=None):
        """EWH fields ``(K, dim, dim)`` [m] -> Stokes modes ``(K, 2, N+1, N+1)``, degree 0 zero."""
        ewh = analyze(np.asarray(fields), lmax=self.nmax)
        if smooth_km is not None:
            ewh = ewh * gaussian_weights(self.nmax, smooth_km)[:, None]
        ewh[..., 0, 0, 0] = 0.0
        return ewh_to_stokes(ewh)


# --------------------------------------------------------------------------------------------
# time helpers


def _days(epochs):
    """Days since :data:`T_ORIGIN` (float)."""
    return (epochs - T_ORIGIN).astype(np.int64) / 86400.0


def _ar1(rng, nsteps, tau_days):
    """Unit-variance stationary AR(1) series ``(nsteps, K)`` with e-folding times [days].

    ``x[0] = e[0]``, ``x[i] = phi x[i-1] + sqrt(1 - phi^2) e[i]``, ``phi = exp(-dt/tau)``.
    """
    tau = np.atleast_1d(np.asarray(tau_days, dtype=float)) * _STEPS_PER_DAY
    phi = np.exp(-1.0 / tau)
    e = rng.standard_normal((nsteps, tau.size))
    e[1:] *= np.sqrt(1.0 - phi**2)
    out = np.empty_like(e)
    if tau.size == 1:
        p, x, col = float(phi[0]), 0.0, e[:, 0].tolist()
        for i, v in enumerate(col):
            x = p * x + v if i else v
            col[i] = x
        out[:, 0] = col
        return out
    out[0] = e[0]
    for i in range(1, nsteps):
        out[i] = phi * out[i - 1] + e[i]
    return out


def _melt_cycle(t_days, day_max, melt_days=90.0):
    """Zero-mean, asymmetric seasonal cycle of an ice mass, between -1 and +1.

    Maximum (+1) at day-of-year ``day_max``; a half-cosine melt over ``melt_days`` down to -1;
    then linear accumulation back to +1 for the rest of the year.
    """
    u = np.mod(t_days - day_max, YEAR_DAYS)
    melt = np.cos(np.pi * u / melt_days)
    accumulate = -1.0 + 2.0 * (u - melt_days) / (YEAR_DAYS - melt_days)
    return np.where(u < melt_days, melt, accumulate)


def _phase_field(lat, table_lat, table_day):
    """Day of year interpolated in latitude along the unit circle (no wrap-around jumps)."""
    ang = 2.0 * np.pi * np.asarray(table_day, dtype=float) / YEAR_DAYS
    c = np.interp(lat, table_lat, np.cos(ang))
    s = np.interp(lat, table_lat, np.sin(ang))
    return np.mod(np.arctan2(s, c) * YEAR_DAYS / (2.0 * np.pi), YEAR_DAYS)


def _harmonic_modes(amp, day_max, cycles=1.0):
    """Amplitude [m] and day of maximum fields -> (cos pattern, sin pattern)."""
    ang = 2.0 * np.pi * cycles * day_max / YEAR_DAYS
    return amp * np.cos(ang), amp * np.sin(ang)


# --------------------------------------------------------------------------------------------
# the five letters; each returns (EWH fields (K, dim, dim) [m], series (T, K), names, smooth)


def _normalised(grid, f, mask):
    """``f`` times ``mask`` with unit RMS over the mask."""
    f = f * mask
    return f / grid.rms(f, mask)


def _atmosphere(grid, rng_x, rng_t, t_days, k_synoptic=40):
    """A: synoptic weather systems (AR(1), 2-4 days) plus a continental seasonal cycle."""
    lat = grid.lat2
    # synoptic variance small in the tropics, large at mid and high latitudes
    wlat = 0.25 + 0.75 * np.sin(np.deg2rad(lat)) ** 2
    fields, names = [], []
    for k in range(k_synoptic):
        g = grid.random_field(rng_x, power=2.0, nmin=1)
        fields.append(g * wlat / grid.rms(g * wlat))
        names.append(f"synoptic_{k:02d}")
    sigma = 0.045 / np.sqrt(k_synoptic)  # total RMS ~4.5 cm at full resolution
    tau = rng_t.uniform(2.0, 4.0, k_synoptic)
    series = [sigma * _ar1(rng_t, t_days.size, tau)]
    # winter high pressure over the continents: maximum mid January (north), mid July (south)
    day = np.where(lat >= 0.0, 15.0, 15.0 + YEAR_DAYS / 2.0)
    amp = 0.012 * (0.3 + 0.7 * np.abs(np.sin(np.deg2rad(lat)))) * grid.land
    amp = amp * (1.0 + 0.3 * grid.random_field(rng_x, power=3.0, nmin=1))
    pc, ps = _harmonic_modes(amp, day)
    fields += [pc, ps]
    names += ["seasonal_cos", "seasonal_sin"]
    w = 2.0 * np.pi * t_days / YEAR_DAYS
    series.append(np.stack([np.cos(w), np.sin(w)], axis=1))
    fields = np.array(fields)
    fields -= np.array([grid.mean(f) for f in fields])[:, None, None]
    return fields, np.concatenate(series, axis=1), names, None


def _ocean(grid, rng_x, rng_t, t_days, k_sub=20):
    """O: ocean bottom pressure, sub-monthly (1-3 weeks) and seasonal; mass-conserving."""
    ocean = grid.ocean
    # largest in the Southern Ocean and at high latitudes
    wlat = 0.6 + 0.9 / (1.0 + np.exp(-(np.abs(grid.lat2) - 45.0) / 6.0))
    fields, names = [], []
    for k in range(k_sub):
        g = grid.random_field(rng_x, power=1.5, nmin=1)
        fields.append(_normalised(grid, g * wlat, ocean))
        names.append(f"submonthly_{k:02d}")
    tau = rng_t.uniform(7.0, 21.0, k_sub)
    series = [0.015 / np.sqrt(k_sub) * _ar1(rng_t, t_days.size, tau)]
    amp = np.exp(0.5 * grid.random_field(rng_x, power=2.0, nmin=1)) * wlat
    amp = 0.012 * _normalised(grid, amp, ocean)
    day = YEAR_DAYS * np.mod(0.15 * grid.random_field(rng_x, power=3.0, nmin=1) + 0.7, 1.0)
    pc, ps = _harmonic_modes(amp, day)
    fields += [pc, ps]
    names += ["seasonal_cos", "seasonal_sin"]
    w = 2.0 * np.pi * t_days / YEAR_DAYS
    series.append(np.stack([np.cos(w), np.sin(w)], axis=1))
    fields = np.array(fields)
    # mass conservation of the ocean: no net mass per mode, nothing on land
    fields = np.array([(f - grid.mean(f, ocean)) * ocean for f in fields])
    return fields, np.concatenate(series, axis=1), names, None


#: Dry regions of small seasonal water storage (lat_min, lat_max, lon_min, lon_max).
_DRY_BOXES = [
    (15.0, 32.0, -17.0, 35.0),  # Sahara
    (14.0, 32.0, 35.0, 60.0),  # Arabia
    (-30.0, -20.0, 118.0, 142.0),  # central Australia
    (36.0, 46.0, 75.0, 110.0),  # Taklamakan, Gobi
    (-28.0, -17.0, -71.0, -67.0),  # Atacama
]

#: Day of year of the maximum of seasonal water storage, by latitude (smoothly interpolated).
#: Neighbouring entries differ by less than a quarter year, so the phase changes gradually.
_H_PHASE_LAT = [-90, -50, -30, -20, -10, 0, 5, 10, 15, 25, 32, 40, 55, 70, 90]
_H_PHASE_DAY = [250, 250, 220, 140, 95, 110, 180, 240, 265, 250, 160, 80, 100, 120, 120]


def _hydrology(grid, rng_x, rng_t, t_days, t_years):
    """H: land water storage outside the ice sheets, seasonal with regional phase."""
    hydro = grid.hydro
    lat, lon = grid.lat2, (grid.lon2 + 180.0) % 360.0 - 180.0
    # seasonal amplitude: log-normal random field, strongest in the tropics (monsoon, Amazon,
    # Congo), small in deserts
    wlat = 0.5 + 1.2 * np.exp(-(((np.abs(lat) - 8.0) / 14.0) ** 2))
    dry = np.zeros(lat.shape, dtype=bool)
    for la0, la1, lo0, lo1 in _DRY_BOXES:
        dry |= (lat >= la0) & (lat <= la1) & (lon >= lo0) & (lon <= lo1)
    amp = np.exp(0.6 * grid.random_field(rng_x, power=2.0, nmin=1)) * wlat
    amp = np.where(dry, 0.1, 1.0) * amp
    amp = 0.075 * _normalised(grid, amp, hydro)  # RMS of the amplitude over land 7.5 cm
    day = _phase_field(lat, _H_PHASE_LAT, _H_PHASE_DAY)
    day = day + 20.0 * grid.random_field(rng_x, power=3.0, nmin=1)
    pc, ps = _harmonic_modes(amp, day)
    day2 = YEAR_DAYS * np.mod(grid.random_field(rng_x, power=3.0, nmin=1) * 0.3, 1.0)
    p2c, p2s = _harmonic_modes(0.2 * amp, day2, cycles=2.0)
    fields = [pc, ps, p2c, p2s]
    names = ["annual_cos", "annual_sin", "semiannual_cos", "semiannual_sin"]
    w = 2.0 * np.pi * t_days / YEAR_DAYS
    # the seasonal amplitude varies from year to year by ~15 %
    mod = 1.0 + 0.15 * _ar1(rng_t, t_days.size, [YEAR_DAYS])[:, 0]
    series = [np.stack([mod * np.cos(w), mod * np.sin(w), np.cos(2 * w), np.sin(2 * w)], axis=1)]
    # interannual wet and dry anomalies (AR(1), 0.7-2 years)
    k_ia = 8
    for k in range(k_ia):
        fields.append(_normalised(grid, grid.random_field(rng_x, power=2.5, nmin=1), hydro))
        names.append(f"interannual_{k:02d}")
    tau = rng_t.uniform(0.7, 2.0, k_ia) * YEAR_DAYS
    series.append(0.025 / np.sqrt(k_ia) * _ar1(rng_t, t_days.size, tau))
    # slow drifts (groundwater depletion / accumulation), ~1 cm/yr RMS over land
    k_tr = 3
    for k in range(k_tr):
        fields.append(_normalised(grid, grid.random_field(rng_x, power=2.5, nmin=1), hydro))
        names.append(f"drift_{k:02d}")
    rates = 0.01 / np.sqrt(k_tr) * rng_t.standard_normal(k_tr)
    series.append(t_years[:, None] * rates[None, :])
    # sub-seasonal storage anomalies after rain events (AR(1), 10-25 days)
    k_sub = 12
    for k in range(k_sub):
        g = grid.random_field(rng_x, power=1.5, nmin=1) * wlat
        fields.append(_normalised(grid, g * np.where(dry, 0.2, 1.0), hydro))
        names.append(f"subseasonal_{k:02d}")
    tau = rng_t.uniform(10.0, 25.0, k_sub)
    series.append(0.015 / np.sqrt(k_sub) * _ar1(rng_t, t_days.size, tau))
    # land only; the mass goes to (comes from) a uniform ocean layer
    fields = np.array([grid.compensate(f * hydro) for f in fields])
    return fields, np.concatenate(series, axis=1), names, None


#: Ice regions: trend [m/yr of EWH, mean over the region], acceleration [m/yr^2], half range
#: of the seasonal cycle [m], day of year of the seasonal mass maximum, interannual RMS [m].
ICE_PARAMETERS = {
    "greenland": (-0.10, -0.010, 0.08, 155.0, 0.02),
    "antarctica_west": (-0.05, -0.005, 0.02, 337.0, 0.02),
    "antarctica_east": (0.005, 0.0, 0.01, 337.0, 0.01),
    "alaska": (-0.06, 0.0, 0.10, 140.0, 0.02),
    "canadian_arctic": (-0.04, -0.005, 0.04, 165.0, 0.01),
    "arctic_islands": (-0.03, 0.0, 0.04, 165.0, 0.01),
    "patagonia": (-0.08, 0.0, 0.06, 322.0, 0.02),
    "high_mountain_asia": (-0.015, 0.0, 0.03, 130.0, 0.005),
}


def _ice(grid, rng_x, rng_t, t_days, t_years):
    """I: ice sheets and glaciers; trend (mass loss), acceleration, asymmetric melt season."""
    fields, names, series = [], [], []
    for name, (rate, acc, season, day_max, sd_ia) in ICE_PARAMETERS.items():
        mask = grid.ice[name]
        if not mask.any():
            continue
        # where the loss happens: margins of Greenland, Amundsen Sea sector of West Antarctica
        emph = np.ones(mask.shape)
        if name == "greenland":
            d = grid.distance_km(74.0, -40.0)
            emph = 0.4 + d / d[mask].max()
        elif name == "antarctica_west":
            emph = 0.3 + 2.5 * np.exp(-0.5 * (grid.distance_km(-75.0, -105.0) / 600.0) ** 2)
        trend = emph * np.exp(0.5 * grid.random_field(rng_x, power=2.5, nmin=1)) * mask
        trend /= grid.mean(trend, mask)
        seas = np.exp(0.4 * grid.random_field(rng_x, power=2.5, nmin=1)) * mask
        seas /= grid.mean(seas, mask)
        f_rate, f_season = rng_t.uniform(0.8, 1.2, 2)
        ia = sd_ia * _ar1(rng_t, t_days.size, [YEAR_DAYS])[:, 0]
        melt_mod = 1.0 + 0.25 * _ar1(rng_t, t_days.size, [YEAR_DAYS])[:, 0]
        fields += [trend, seas]
        names += [f"trend_{name}", f"season_{name}"]
        series += [
            f_rate * (rate * t_years + 0.5 * acc * t_years**2) + ia,
            f_season * season * melt_mod * _melt_cycle(t_days, day_max),
        ]
    # the melt water goes to (comes from) a uniform ocean layer
    fields = np.array([grid.compensate(f) for f in fields])
    return fields, np.stack(series, axis=1), names, None


#: Glacial isostatic adjustment centres: (lat, lon, Gaussian sigma [km], peak rate [m/yr]).
GIA_CENTRES = [
    (60.0, -85.0, 700.0, 0.006),  # Hudson Bay (Laurentide)
    (64.0, 20.0, 450.0, 0.004),  # Fennoscandia
    (-80.0, -110.0, 600.0, 0.003),  # West Antarctica
]

#: Subduction zones for earthquake-like steps: (lat, lon, trench strike [deg from north]).
QUAKE_ZONES = [
    (3.0, 95.0, 320.0),  # Sumatra
    (-36.0, -73.0, 5.0),  # Chile
    (38.0, 142.5, 15.0),  # Japan
    (57.0, -152.0, 60.0),  # Alaska
    (52.0, 159.0, 35.0),  # Kamchatka
    (-15.0, -76.0, 320.0),  # Peru
    (-20.0, -174.0, 20.0),  # Tonga
    (51.5, -177.0, 85.0),  # Aleutians
    (16.5, -99.0, 290.0),  # Mexico
    (45.0, 150.0, 40.0),  # Kuril
]

#: Gaussian smoothing radius [km] applied to every S mode (steep spectrum).
S_SMOOTH_KM = 500.0


def _solid_earth(grid, rng_x, rng_t, rng_e, epochs, t_days, t_years):
    """S: GIA-like secular trend, slow low-degree variations, rare earthquake steps."""
    # GIA: uplift/mass gain over the former ice centres with a peripheral ring of loss
    gia = np.zeros(grid.lat2.shape)
    for lat0, lon0, sig, peak in GIA_CENTRES:
        d = grid.distance_km(lat0, lon0)
        ring = np.exp(-0.5 * (d / sig) ** 2) - 0.25 * np.exp(-0.5 * (d / (2.0 * sig)) ** 2)
        gia += peak * rng_x.uniform(0.85, 1.15) * ring / 0.75
    fields, names = [gia], ["gia_trend"]
    series = [t_years[:, None]]
    # slow, low-degree solid-Earth variations (AR(1), ~1 year), 0.15 mm RMS
    k_slow = 4
    for k in range(k_slow):
        fields.append(grid.random_field(rng_x, power=4.0, nmin=2, nmax_gen=10))
        names.append(f"slow_{k:02d}")
    series.append(0.00015 / np.sqrt(k_slow) * _ar1(rng_t, t_days.size, [YEAR_DAYS] * k_slow))
    # earthquakes: about one per year at subduction zones, step plus post-seismic relaxation
    nyears = (epochs[-1] - epochs[0]).astype(np.int64) / (86400.0 * YEAR_DAYS)
    nquake = int(np.clip(rng_e.poisson(0.8 * nyears), 1, max(1, int(np.ceil(2 * nyears)))))
    for q in range(nquake):
        lat0, lon0, strike = QUAKE_ZONES[int(rng_e.integers(len(QUAKE_ZONES)))]
        lat0 += rng_e.uniform(-2.0, 2.0)
        lon0 += rng_e.uniform(-2.0, 2.0)
        i0 = int(rng_e.integers(1, epochs.size))
        peak = rng_e.uniform(0.003, 0.008) * rng_e.choice([-1.0, 1.0])
        relax = rng_e.uniform(0.2, 0.5)
        tau = rng_e.uniform(0.3, 1.0) * YEAR_DAYS
        # dipole across the trench: mass gain on one side, loss on the other
        az = np.deg2rad(strike + 90.0)
        off = 300.0 / 111.2
        lat1 = lat0 + off * np.cos(az)
        lon1 = lon0 + off * np.sin(az) / np.cos(np.deg2rad(lat0))
        lat2 = lat0 - off * np.cos(az)
        lon2 = lon0 - off * np.sin(az) / np.cos(np.deg2rad(lat0))
        sig = 350.0
        pattern = np.exp(-0.5 * (grid.distance_km(lat1, lon1) / sig) ** 2)
        pattern -= 0.6 * np.exp(-0.5 * (grid.distance_km(lat2, lon2) / sig) ** 2)
        fields.append(peak * pattern)
        names.append(f"quake_{q:02d}_{str(epochs[i0])[:13].replace('-', '')}")
        dt = t_days - t_days[i0]
        after = dt >= 0.0
        ts = np.where(after, 1.0 + relax * (1.0 - np.exp(-np.where(after, dt, 0.0) / tau)), 0.0)
        series.append(ts[:, None])
    fields = np.array(fields)
    fields -= np.array([grid.mean(f) for f in fields])[:, None, None]
    return fields, np.concatenate(series, axis=1), names, S_SMOOTH_KM


# --------------------------------------------------------------------------------------------
# one letter


def letter_fields(letter, grid, rng, epochs):
    """EWH fields and time series of one letter.

    Parameters
    ----------
    letter : str
        One of ``AOHIS``.
    grid : Grid
        The grid the fields are made on.
    rng : callable
        ``rng(stream)`` -> ``numpy.random.Generator`` of that letter's stream: 0 spatial
        patterns, 1 time series, 2 event catalogue (S only).
    epochs : numpy.ndarray
        ``(T_all,)`` ``datetime64[s]``, every epoch of the model.

    Returns
    -------
    fields : numpy.ndarray
        ``(K, dim, dim)`` EWH [m].
    series : numpy.ndarray
        ``(T_all, K)`` dimensionless.
    names : list of str
        ``(K,)`` short names of the modes.
    smooth_km : float or None
        Gaussian smoothing radius [km] for :meth:`Grid.to_stokes` (None: none).
    """
    t_days = _days(epochs)
    t_years = (t_days - 0.5 * (t_days[0] + t_days[-1])) / YEAR_DAYS
    rx, rt = rng(0), rng(1)
    if letter == "A":
        return _atmosphere(grid, rx, rt, t_days)
    if letter == "O":
        return _ocean(grid, rx, rt, t_days)
    if letter == "H":
        return _hydrology(grid, rx, rt, t_days, t_years)
    if letter == "I":
        return _ice(grid, rx, rt, t_days, t_years)
    if letter == "S":
        return _solid_earth(grid, rx, rt, rng(2), epochs, t_days, t_years)
    raise ValueError(f"unknown letter {letter!r}; expected one of AOHIS")
