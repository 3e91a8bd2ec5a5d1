"""The network's input channels: the summed field, its neighbouring windows, and position.

The paper's network sees one image, the sum of the components (one channel). Two options of
``training`` add channels, formed on the fly from ``samples.h5`` by the input pipeline
(:mod:`gravsep.network.training.data`) and by prediction (:mod:`gravsep.network.inference`),
so that the dataset file stays shared between models:

``context_windows: K``, ``context_stride: s`` (sampling ``lat_lon`` only)
    The inputs of K samples before and K after, ``s`` samples apart, as channels: a year's
    consecutive ``lat_lon`` samples are consecutive time steps, so the network sees how the
    field evolves (:func:`context_offsets` gives the order: the sample itself, then -s, +s,
    ..., -K s, +K s). The samples are the windows resampled to ``dim`` steps, so neighbouring
    samples share windows; a stride above 1 reaches further in time with the same channels.
    At the ends of a year the index is clamped to the year's own first or last sample, so a
    sample never sees another year: nothing crosses from the test or validation year into
    training, or back.
``position_channels: true``
    :data:`POSITION_CHANNELS`: sin(latitude), sin and cos of longitude, sin and cos of the
    time of year (phase ``2 pi f``, ``f`` the fraction of the year at the sample's time) and
    the year ramp ``2 f - 1`` (-1 on 1 January, +1 at the end; sin and cos alone would not
    tell the start of a year from its end, where a signal with a trend, the yearly mean
    removed, has opposite signs). On a ``lat_lon`` image latitude varies along the rows,
    longitude along the columns and time is constant; on a ``t_lon`` image (one latitude)
    time varies along the rows, longitude along the columns and latitude is the image's
    fixed coordinate; on a ``lat_t`` image (one longitude) latitude varies along the rows,
    time along the columns and longitude is fixed.

Channel order: the ``1 + 2K`` inputs (metres, scaled by the input scale in the network), then
the position channels (dimensionless, not scaled). With both options off the input is the
paper's single channel. Random samples (``dataset.random_samples``) mix the time steps, so
neither option is allowed with them (:func:`check_dataset`).

Each position channel is the sum of a part that varies along the rows and one along the
columns (:func:`position_parts`), so a year's channels are stored as ``(S, P, dim)`` twice
rather than ``(S, dim, dim, P)``.
"""

from dataclasses import dataclass

import numpy as np

from gravsep.config import ConfigError
from gravsep.dataset.sampling import resample_time

#: Names of the position channels, in channel order.
POSITION_CHANNELS = ("sin_lat", "sin_lon", "cos_lon", "sin_time", "cos_time", "year_ramp")


def context_offsets(k, stride=1):
    """Sample offsets of the context channels: ``[0, -s, s, ..., -k s, k s]``."""
    return [0] + [sign * d * int(stride) for d in range(1, int(k) + 1) for sign in (-1, 1)]


def neighbour_index(count, k, stride=1):
    """Index of each context window within a year, clamped to the year's samples.

    Parameters
    ----------
    count : int
        Samples of the year.
    k : int
        ``context_windows``.
    stride : int
        ``context_stride``: samples between context windows.

    Returns
    -------
    numpy.ndarray
        ``(count, 1 + 2k)`` int64 (:func:`context_offsets` order).
    """
    idx = np.arange(int(count))[:, None] + np.asarray(context_offsets(k, stride))[None, :]
    return np.clip(idx, 0, max(int(count) - 1, 0)).astype(np.int64)


def year_fraction(times, year):
    """Fraction of ``year`` elapsed at ``times`` [s since 1970]: 0 on 1 January 00 h UTC.

    Can be slightly above 1 for a window filed under ``year`` whose middle lies in the next.
    """
    start = np.datetime64(f"{int(year):04d}-01-01", "s").astype(np.int64)
    end = np.datetime64(f"{int(year) + 1:04d}-01-01", "s").astype(np.int64)
    return (np.asarray(times, dtype=np.float64) - start) / float(end - start)


def year_ramp(fraction):
    """The year ramp ``2 f - 1`` [-1, 1] of fractions of the year ``f`` (position channel
    ``year_ramp``; the regressor of ``regression_statistics(..., ramp=True)``)."""
    return 2.0 * np.asarray(fraction, dtype=np.float64) - 1.0


def sample_year_fraction(window_times, year, dim):
    """Fraction of the year of each of the ``dim`` time steps of a year's samples.

    The time axis is resampled from the windows to ``dim`` steps as the dataset stage does
    (:func:`gravsep.dataset.sampling.resample_time`).
    """
    return resample_time(year_fraction(window_times, year), int(dim))


def position_parts(sampling, lat, lon, fraction):
    """Row and column parts of the position channels of one year's samples.

    Parameters
    ----------
    sampling : {"lat_lon", "lat_t", "t_lon"}
    lat, lon : numpy.ndarray
        ``(dim,)`` [degrees] of the grid.
    fraction : numpy.ndarray
        ``(dim,)`` fraction of the year of the samples' time steps
        (:func:`sample_year_fraction`).

    Returns
    -------
    rows, cols : numpy.ndarray
        ``(S, P, dim)`` float32 with ``S = dim``: channel ``p`` of sample ``s`` at pixel
        ``(i, j)`` is ``rows[s, p, i] + cols[s, p, j]``.
    """
    lat_r, lon_r = np.radians(np.asarray(lat, np.float64)), np.radians(np.asarray(lon, np.float64))
    f = np.asarray(fraction, np.float64)
    dim = len(lat_r)
    phase = 2 * np.pi * f
    coords = {"sin_lat": np.sin(lat_r), "sin_lon": np.sin(lon_r), "cos_lon": np.cos(lon_r),
              "sin_time": np.sin(phase), "cos_time": np.cos(phase),
              "year_ramp": year_ramp(f)}  # fmt: skip
    # which image axis each coordinate runs along; "sample": fixed per image
    along = {
        "lat_lon": {"lat": "rows", "lon": "cols", "time": "sample"},
        "t_lon": {"lat": "sample", "lon": "cols", "time": "rows"},
        "lat_t": {"lat": "rows", "lon": "sample", "time": "cols"},
    }[sampling]
    kind = {"sin_lat": "lat", "sin_lon": "lon", "cos_lon": "lon", "sin_time": "time",
            "cos_time": "time", "year_ramp": "time"}  # fmt: skip
    rows = np.zeros((dim, len(POSITION_CHANNELS), dim))
    cols = np.zeros_like(rows)
    for p, name in enumerate(POSITION_CHANNELS):
        v = coords[name]
        where = along[kind[name]]
        if where == "rows":
            rows[:, p, :] = v[None, :]
        elif where == "cols":
            cols[:, p, :] = v[None, :]
        else:
            rows[:, p, :] = v[:, None]
    return rows.astype(np.float32), cols.astype(np.float32)


def position_channels(rows, cols):
    """The position channels ``(S, dim, dim, P)`` from their parts (:func:`position_parts`)."""
    return np.ascontiguousarray((rows[:, :, :, None] + cols[:, :, None, :]).transpose(0, 2, 3, 1))


def network_input(windows, rows=None, cols=None):
    """The network's input ``(m, dim, dim, channels)`` of some samples.

    Parameters
    ----------
    windows : numpy.ndarray
        ``(m, 1 + 2K, dim, dim)`` the samples' context windows [m] (:func:`neighbour_index`).
    rows, cols : numpy.ndarray, optional
        ``(m, P, dim)`` the samples' position parts (:func:`position_parts`); none: no
        position channels.
    """
    x = np.asarray(windows).transpose(0, 2, 3, 1)
    if rows is None:
        return x
    return np.concatenate([x, position_channels(rows, cols)], axis=-1)


@dataclass(frozen=True)
class InputFeatures:
    """What the network's input holds beyond the summed field.

    Attributes
    ----------
    context_windows : int
        Neighbouring samples on each side (``training.context_windows``).
    context_stride : int
        Samples between them (``training.context_stride``).
    position : bool
        Position channels (``training.position_channels``).
    """

    context_windows: int = 0
    position: bool = False
    context_stride: int = 1

    @classmethod
    def from_training(cls, training):
        """From a ``training`` section (missing keys: the paper's single channel)."""
        return cls(int(training.get("context_windows", 0)),
                   bool(training.get("position_channels", False)),
                   int(training.get("context_stride", 1)))  # fmt: skip

    @classmethod
    def from_record(cls, inputs):
        """From the ``inputs`` of ``parameters.yaml`` (:meth:`record`; absent: one channel)."""
        return cls.from_training({"position_channels": False, **dict(inputs or {})})

    @property
    def reach(self):
        """Samples the context reaches on each side: ``K s``."""
        return self.context_windows * self.context_stride

    def neighbours(self, count):
        """:func:`neighbour_index` of a year of ``count`` samples."""
        return neighbour_index(count, self.context_windows, self.context_stride)

    @property
    def windows(self):
        """Input channels of the field: ``1 + 2 K``."""
        return 1 + 2 * self.context_windows

    @property
    def channels(self):
        """Input channels of the network."""
        return self.windows + (len(POSITION_CHANNELS) if self.position else 0)

    @property
    def names(self):
        """Channel names: ``input[+d]`` per window offset, then :data:`POSITION_CHANNELS`."""
        offsets = context_offsets(self.context_windows, self.context_stride)
        names = [f"input[{d:+d}]" if d else "input" for d in offsets]
        return names + (list(POSITION_CHANNELS) if self.position else [])

    @property
    def ramp_channel(self):
        """Index of the ``year_ramp`` channel, or None without position channels."""
        if not self.position:
            return None
        return self.windows + POSITION_CHANNELS.index("year_ramp")

    def record(self):
        """The input layout as ``parameters.yaml`` records it."""
        return {"context_windows": self.context_windows, "context_stride": self.context_stride,
                "position_channels": self.position, "channels": self.names}  # fmt: skip

    def channel_scales(self, input_scale):
        """Per channel, what divides it into network units: ``(channels,)`` float32."""
        scales = [float(input_scale)] * self.windows + [1.0] * (self.channels - self.windows)
        return np.asarray(scales, np.float32)

    def check_dataset(self, sampling, random_samples):
        """Raise ConfigError for options the dataset cannot serve (message names the key)."""
        if self.context_windows and sampling != "lat_lon":
            raise ConfigError(
                f"training.context_windows: neighbouring windows need sampling lat_lon "
                f"(neighbouring samples are time steps), not {sampling}"
            )
        if (self.context_windows or self.position) and random_samples:
            key = "context_windows" if self.context_windows else "position_channels"
            raise ConfigError(
                f"training.{key}: random samples mix the time steps; neither neighbouring "
                "windows nor a time of year belong to a random sample"
            )

    def year_positions(self, samples, year):
        """A year's position parts ``(rows, cols)``, each ``(S, P, dim)`` float32, or None.

        Parameters
        ----------
        samples : gravsep.formats.samples.Samples
        year : int
        """
        if not self.position:
            return None
        fraction = sample_year_fraction(samples.time(year), year, samples.dim)
        return position_parts(samples.sampling, samples.lat, samples.lon, fraction)
