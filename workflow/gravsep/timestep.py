"""The time step of the windows: a whole number of hours, or calendar months.

``preprocess.deltat`` (and a dataset's ``deltat``) is either an integer number of hours, a
multiple of the 6-hour epoch step (168: weekly, consecutive windows from 1 January of the first
year), or the string ``month``: calendar months, as the GRACE/GRACE-FO Level-2 products are.
Monthly windows start on the first of every month at 00 UTC and end on the first of the next
(end excluded); their lengths differ (28 to 31 days, 112 to 124 epochs).
"""

import numpy as np

from gravsep.constants import EPOCH_HOURS

#: The value of ``deltat`` that means calendar months.
MONTH = "month"


def is_month(deltat):
    """Whether ``deltat`` means calendar months."""
    return isinstance(deltat, str) and deltat == MONTH


def check(deltat):
    """``deltat`` as given (``"month"`` or a positive int multiple of 6 h); else ValueError."""
    if is_month(deltat):
        return deltat
    if isinstance(deltat, bool) or not isinstance(deltat, (int, np.integer)):
        raise ValueError(f"deltat must be {MONTH!r} or whole hours, got {deltat!r}")
    if deltat <= 0 or deltat % EPOCH_HOURS:
        raise ValueError(f"deltat must be a positive multiple of {EPOCH_HOURS} h, got {deltat}")
    return int(deltat)


def label(deltat):
    """Short name of a time step for paths and attributes: ``"month"`` or ``"168h"``."""
    deltat = check(deltat)
    return MONTH if is_month(deltat) else f"{deltat}h"


def month_edges(first_year, last_year):
    """Starts and ends ``datetime64[s]`` of every calendar month of the years (end excluded)."""
    start = np.arange(
        np.datetime64(f"{int(first_year):04d}-01"),
        np.datetime64(f"{int(last_year) + 1:04d}-01"),
        dtype="datetime64[M]",
    )
    return start.astype("datetime64[s]"), (start + 1).astype("datetime64[s]")


def month_bounds(seconds):
    """Start and end [s since 1970] of the calendar month holding each epoch.

    Parameters
    ----------
    seconds : array_like
        ``(n,)`` epochs [s since 1970-01-01 UTC], e.g. window mid-epochs.

    Returns
    -------
    numpy.ndarray
        ``(n, 2)`` int64: first of the month 00 UTC and first of the next month.
    """
    month = np.asarray(seconds, dtype=np.int64).astype("datetime64[s]").astype("datetime64[M]")
    start = month.astype("datetime64[s]").astype(np.int64)
    end = (month + 1).astype("datetime64[s]").astype(np.int64)
    return np.stack([start, end], axis=-1)
