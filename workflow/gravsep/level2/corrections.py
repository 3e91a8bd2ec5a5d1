"""The standard corrections of Level-2 fields: TN-14 C20/C30, TN-13 degree 1, the mean field.

Each correction is a switch of ``apply.<name>.corrections`` with its source file. A technical
note's row is matched to a month by epoch range: the row whose span overlaps the month's most
(intersection over union, the spans of both ends excluded) is taken if that ratio is at least
:data:`MIN_OVERLAP`; a month with no such row is not covered, and by the switch ``missing``
is refused (:class:`NotCovered`, naming the months) or dropped (the report lists it).

C20 and C30 (TN-14) replace the fields' values, rescaled from the note's GM and radius to the
model's; C30 only where the note gives it (not NaN) and ``c30`` is on. Degree 1 (TN-13) is set
to the note's C10, C11, S11, rescaled from the constants the config names (TN-13 gives none;
GRACE's) and converted from the note's frame and Love number to the training's
(:mod:`gravsep.level2.frames`). The mean field is the mean over the months of a period, or a
file's field (read with the input readers), subtracted from every month.
"""

import numpy as np

from gravsep.formats.technotes import read_tn13, read_tn14
from gravsep.level2.frames import degree1_factor
from gravsep.level2.inputs import read_field, rescale

#: Least intersection over union of a note's span with a month's for the row to cover it.
MIN_OVERLAP = 0.5


class NotCovered(ValueError):
    """Months that a correction file does not cover (with ``missing: refuse``)."""


def match_spans(start, end, row_start, row_end, min_overlap=MIN_OVERLAP):
    """The row of a note that covers each month, by epoch range.

    Parameters
    ----------
    start, end : array_like
        ``(T,)`` spans of the months (``datetime64``), end excluded.
    row_start, row_end : array_like
        ``(R,)`` spans of the note's rows.

    Returns
    -------
    index : numpy.ndarray
        ``(T,)`` int: the row of largest intersection over union, -1 where it is below
        ``min_overlap`` (not covered).
    overlap : numpy.ndarray
        ``(T,)`` that ratio.
    """
    s = np.asarray(start, dtype="datetime64[s]").astype(np.int64)[:, None]
    e = np.asarray(end, dtype="datetime64[s]").astype(np.int64)[:, None]
    rs = np.asarray(row_start, dtype="datetime64[s]").astype(np.int64)[None]
    re_ = np.asarray(row_end, dtype="datetime64[s]").astype(np.int64)[None]
    inter = np.clip(np.minimum(e, re_) - np.maximum(s, rs), 0, None)
    union = np.maximum(e, re_) - np.minimum(s, rs)
    ratio = inter / union
    best = np.argmax(ratio, axis=1) if ratio.shape[1] else np.zeros(len(ratio), dtype=int)
    value = ratio[np.arange(len(ratio)), best] if ratio.shape[1] else np.zeros(len(ratio))
    return np.where(value >= min_overlap, best, -1), value


def _uncovered(months, index, what, path):
    return [(m, f"{what}: {path} has no row for {m.start} .. {m.end}")
            for m, i in zip(months, index, strict=True) if i < 0]  # fmt: skip


def _rescaled(value, n, gm, radius):
    """A coefficient of degree ``n`` in the note's constants, in the model's."""
    cs = np.zeros((2, n + 1, n + 1))
    cs[0, n, 0] = value
    return float(rescale(cs, gm, radius)[0, n, 0])


def replace_c20(months, path, c30=True):
    """Replace C20 (and C30) by a TN-14 file's values, in place.

    Returns
    -------
    list of (Month, str)
        The months the file does not cover, with the reason.
    """
    tn = read_tn14(path)
    index, ratio = match_spans([m.start for m in months], [m.end for m in months],
                               tn["start"], tn["end"])  # fmt: skip
    for m, i, r in zip(months, index, ratio, strict=True):
        if i < 0:
            continue
        m.cs[0, 2, 0] = _rescaled(tn["c20"][i], 2, tn["gm"], tn["radius"])
        note = {
            "file": str(path),
            "line": int(tn["lines"][i]),
            "overlap": round(float(r), 4),
            "span": f"{tn['start'][i]} .. {tn['end'][i]}",
            "C20": True,
            "C30": False,
        }
        if c30 and np.isfinite(tn["c30"][i]) and m.cs.shape[-1] > 3:
            m.cs[0, 3, 0] = _rescaled(tn["c30"][i], 3, tn["gm"], tn["radius"])
            note["C30"] = True
        m.info.setdefault("corrections", {})["TN-14"] = note  # fmt: skip
    return _uncovered(months, index, "C20 (TN-14)", path)


def insert_degree1(months, path, frame="CF", love_k1=0.021, gm=3.986004415e14,
                   radius=6378136.3):  # fmt: skip
    """Set C10, C11, S11 from a TN-13 file, converted to the training's frame, in place.

    Returns
    -------
    list of (Month, str)
        The months the file does not cover.
    """
    tn = read_tn13(path)
    factor = degree1_factor(frame, love_k1)
    index, ratio = match_spans([m.start for m in months], [m.end for m in months],
                               tn["start"], tn["end"])  # fmt: skip
    for m, i, r in zip(months, index, ratio, strict=True):
        if i < 0:
            continue
        for p, (n, mm), key in ((0, (1, 0), "c10"), (0, (1, 1), "c11"), (1, (1, 1), "s11")):
            m.cs[p, n, mm] = _rescaled(tn[key][i], 1, gm, radius) * factor
        m.info.setdefault("corrections", {})["TN-13"] = {
            "file": str(path), "line": int(tn["lines"][i]), "overlap": round(float(r), 4),
            "span": f"{tn['start'][i]} .. {tn['end'][i]}", "frame": frame,
            "love_k1": float(love_k1), "factor": factor,
        }  # fmt: skip
    return _uncovered(months, index, "degree 1 (TN-13)", path)


def mean_field(months, period=None, path=None, fmt="icgem"):
    """The mean field to remove, and what it is (a dict for the report).

    Parameters
    ----------
    months : list of Month
    period : (str, str), optional
        First and last month ``YYYY-MM`` (mid-epochs inside are averaged); default all.
    path : path-like, optional
        A file holding the mean field instead (``fmt``), rescaled to the model's constants.
    """
    nmax = months[0].cs.shape[-1] - 1
    if path is not None:
        field = read_field(path, fmt, nmax, need_span=False)
        return field.cs, {"file": str(path), "sha256": field.sha256}
    labels = [m.label for m in months]
    if period is None:
        chosen = list(range(len(months)))
    else:
        chosen = [i for i, lab in enumerate(labels) if period[0] <= lab <= period[1]]
    if not chosen:
        raise ValueError(f"mean period {period}: no input month lies in it ({labels[0]} .. "
                         f"{labels[-1]})")  # fmt: skip
    mean = np.mean([months[i].cs for i in chosen], axis=0)
    return mean, {"period": list(period) if period else [labels[0], labels[-1]],
                  "months": [labels[i] for i in chosen]}  # fmt: skip


def apply_corrections(months, corrections):
    """Apply the configured corrections (``apply.<name>.corrections``) to the months.

    Returns
    -------
    kept : list of Month
        The months covered by every correction switched on (or all, with ``refuse``).
    dropped : list of dict
        ``month``, ``source``, ``reason`` of each dropped month.

    Raises
    ------
    NotCovered
        With ``missing: refuse``, naming every month not covered and the file.
    """
    missing = []
    c20, d1 = corrections["c20"], corrections["degree1"]
    if c20["replace"]:
        missing += replace_c20(months, c20["file"], c30=c20["c30"])
    if d1["insert"]:
        missing += insert_degree1(months, d1["file"], d1["frame"], d1["love_k1"], d1["gm"],
                                  d1["radius"])  # fmt: skip
    if missing and corrections["missing"] == "refuse":
        raise NotCovered(
            "months not covered by a correction file (corrections.missing: refuse): "
            + "; ".join(reason for _, reason in missing)
        )
    gone = {id(m) for m, _ in missing}
    dropped = [{"month": m.label, "source": m.source, "reason": reason} for m, reason in missing]
    return [m for m in months if id(m) not in gone], dropped
