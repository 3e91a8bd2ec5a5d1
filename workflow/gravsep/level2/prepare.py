"""Rule ``apply_prepare``: Level-2 files -> corrected series -> the model's input samples.

1. The model's record (its dataset's attributes and ``parameters.yaml``) is compared with the
   processing of the data (``apply.<name>.processing``): a time step, maximum degree, filter,
   unit or component list that differs is refused, naming it (:func:`check_model`).
2. The files are read and rescaled to the model's constants (:mod:`gravsep.level2.inputs`),
   their spans checked against the time step, corrected (:mod:`gravsep.level2.corrections`),
   the mean field removed; the result is ``series.h5`` (:mod:`gravsep.formats.series`).
3. As the dataset stage does for the training data (:mod:`gravsep.dataset.build`): Gaussian
   filter, EWH, synthesis on the model's grid (and its regional cut-out); per calendar year
   (of the months' mid-epochs) the months resampled in time to ``dim`` steps and turned into
   the model's samples (and random mixing, if the model had it). Written as a ``samples.h5``
   of inputs alone, or with the truth as targets where it is known (the demonstration): its
   months are matched by span and the same mean is removed (the mean over the same months).
4. ``corrections.yaml``: the record of what was read and applied, month by month.
"""

import json
import logging

import numpy as np

from gravsep import timestep
from gravsep.atomic import write_text
from gravsep.constants import GM, R_EARTH
from gravsep.dataset.build import component_grids
from gravsep.dataset.sampling import cube_to_samples, mix, read_cube, resample_time
from gravsep.evaluation.metrics import relative_rms
from gravsep.formats.parameters import read_parameters
from gravsep.formats.samples import Samples, SamplesWriter
from gravsep.formats.series import SeriesWriter
from gravsep.formats.store import Store
from gravsep.level2.corrections import apply_corrections, mean_field
from gravsep.level2.frames import TRAINING_FRAME, TRAINING_K1
from gravsep.level2.inputs import check_time_step, read_inputs
from gravsep.plain import plain

log = logging.getLogger(__name__)

#: The keys of the processing that must be the model's.
CHECKED = ("deltat", "nmax", "nmax_flt", "unit", "components")


def model_record(dataset_h5, parameters_yaml):
    """What the model was trained on and the grid it takes (its dataset and parameters)."""
    params = read_parameters(parameters_yaml)
    with Samples(dataset_h5) as s:
        a = s.attrs
        year = s.years[0] if s.years else None
        return {
            "deltat": s.deltat, "nmax": int(a["nmax"]), "nmax_flt": int(a["nmax_flt"]),
            "unit": str(a["unit"]), "components": list(params["components"]),
            "dataset_components": s.components, "sampling": s.sampling, "dim": s.dim,
            "dim_global": int(a["dim_global"]), "row0": int(a["row0"]),
            "col0": int(a["col0"]), "extent": str(a["extent"]), "lat": s.lat, "lon": s.lon,
            "g": s.g, "g_pinv": s.g_pinv,
            "dtype": str(s.input(year).dtype) if year is not None else "float32",
        }  # fmt: skip


def check_model(processing, record, model="the model"):
    """Refuse a model whose time step, degree, filter, unit or components differ from the
    data's processing, naming every mismatch.

    Raises
    ------
    ValueError
    """
    if record["deltat"] is None:
        raise ValueError(
            f"{model}: its dataset does not record its time step (written before deltat was "
            "recorded); rebuild it (rule dataset) to apply the model"
        )
    wrong = [
        f"{key}: the data's {processing[key]!r}, the model's {record[key]!r}"
        for key in CHECKED
        if (list(processing[key]) if key == "components" else processing[key]) != record[key]
    ]
    if record["components"] != record["dataset_components"]:
        wrong.append(f"components of the parameters {record['components']} and the dataset "
                     f"{record['dataset_components']} differ")  # fmt: skip
    if wrong:
        raise ValueError(f"refusing to apply {model}: " + "; ".join(wrong))


def _grids(cs, record):
    """Filtered EWH grids ``(W, dim, dim)`` [m] on the model's (cut-out) grid."""
    full = component_grids(cs, record["nmax_flt"], record["dim_global"], record["unit"])
    r, c, d = record["row0"], record["col0"], record["dim"]
    return np.ascontiguousarray(full[:, r : r + d, c : c + d])


def _samples(cube, record):
    """Samples of a ``(lat, lon, W)`` or ``(C, lat, lon, W)`` cube, as the dataset makes them."""
    samples = cube_to_samples(resample_time(cube, record["dim"]), record["sampling"])
    return samples if record["g"] is None else mix(samples, record["g"])


def read_truth(stores, components, months):
    """The truth of each month from truth stores, ``(C, T, 2, N+1, N+1)``, matched by span.

    Raises
    ------
    ValueError
        A month without its truth (naming it).
    """
    found = {}
    for path in stores:
        with Store(path) as f:
            for i, (s, e) in enumerate(zip(f.time, f.time_end, strict=True)):
                found[(str(f.attrs["name"]), int(s), int(e))] = f.cs[i]
    out = []
    for comp in components:
        rows = []
        for m in months:
            key = (comp, int(m.start.astype(np.int64)), int(m.end.astype(np.int64)))
            if key not in found:
                raise ValueError(f"no truth of {comp} for {m.start} .. {m.end} in {stores}")
            rows.append(found[key][..., : m.cs.shape[-1], : m.cs.shape[-1]])
        out.append(np.array(rows))
    return np.array(out)


def _year_groups(months):
    years = np.array([int(str(m.mid)[:4]) for m in months])
    return {int(y): np.flatnonzero(years == y) for y in np.unique(years)}


def write_samples(out, record, grids, mids, groups, truth_grids=None):
    """The apply ``samples.h5``; returns the relative RMS of the input's time round trip
    (samples mapped back to the months against the months) per year."""
    split = {f"{s}_years": [] for s in ("train", "validation", "test")}
    trip = {}
    with SamplesWriter(
        out, components=record["components"], sampling=record["sampling"], lat=record["lat"],
        lon=record["lon"], split=split, dtype=record["dtype"], g=record["g"],
        g_pinv=record["g_pinv"], targets=truth_grids is not None,
        dim_global=record["dim_global"], nmax=record["nmax"], nmax_flt=record["nmax_flt"],
        unit=record["unit"], row0=record["row0"], col0=record["col0"], deltat=record["deltat"],
        extent=json.loads(record["extent"]),
    ) as writer:  # fmt: skip
        for year, idx in groups.items():
            cube = np.moveaxis(grids[idx], 0, -1)
            inp, target = writer.add_year(year, len(idx))
            x = _samples(cube, record)
            inp[...] = x.astype(record["dtype"])
            back = read_cube(inp[()], record["sampling"], len(idx), record["g_pinv"])
            trip[year] = float(relative_rms(back, cube, record["lat"]))
            if truth_grids is not None:
                t = np.moveaxis(truth_grids[:, idx], 1, -1)
                target[...] = _samples(t, record).astype(record["dtype"])
            writer.set_times(year, mids[idx])
    return trip


def _frames(corrections):
    d1 = corrections["degree1"]
    data = (
        f"degree 1 inserted from TN-13 ({d1['frame']} frame, k'1 {d1['love_k1']})"
        if d1["insert"]
        else "no degree 1 inserted (GSM files carry none: their orbits are about the CM)"
    )
    return {"data": data, "training": f"{TRAINING_FRAME} frame, k'1 {TRAINING_K1}"}


def corrected_months(files, fmt, processing, corrections):
    """Read, check and correct the files; returns ``(months, kept, dropped, cs, mean, info)``
    with ``cs`` ``(T, 2, N+1, N+1)`` the kept months less the mean field."""
    months = read_inputs(files, fmt, processing["nmax"])
    check_time_step(months, processing["deltat"])
    kept, dropped = apply_corrections(months, corrections)
    if not kept:
        raise ValueError("every month was dropped: " + "; ".join(d["reason"] for d in dropped))
    nmax = processing["nmax"]
    mean, info = np.zeros((2, nmax + 1, nmax + 1)), {"removed": False}
    mc = corrections["mean"]
    if mc["remove"]:
        mean, info = mean_field(kept, mc.get("period"), mc.get("file"), mc["format"])
        info["removed"] = True
    return months, kept, dropped, np.array([m.cs for m in kept]) - mean, mean, info


def truth_grids(stores, record, kept, mean_info):
    """Grids ``(C, T, dim, dim)`` [m] of the truth, less its mean over the months whose mean
    was removed from the data (all months where the mean came from a file)."""
    t = read_truth(stores, record["components"], kept)
    if mean_info["removed"]:
        chosen = [i for i, m in enumerate(kept) if m.label in mean_info.get("months", [])]
        t = t - t[:, chosen or slice(None)].mean(axis=1, keepdims=True)
    return np.array([_grids(c, record) for c in t])


def prepare(files, fmt, processing, corrections, model_dataset, model_parameters, out_series,
            out_samples, out_report, model="", truth=None):  # fmt: skip
    """Read, correct and sample Level-2 files for a model (module docstring).

    Parameters
    ----------
    files : list of path-like
    fmt : {"gsm", "icgem"}
    processing, corrections : dict
        ``apply.<name>.processing`` and ``.corrections`` (defaults filled in).
    model_dataset, model_parameters : path-like
        The model's ``samples.h5`` and ``parameters.yaml``.
    out_series, out_samples, out_report : path-like
        ``series.h5``, ``samples.h5``, ``corrections.yaml``.
    model : str
    truth : list of path-like, optional
        Truth stores of the components (the demonstration).

    Returns
    -------
    dict
        The report written to ``out_report``.
    """
    import yaml

    record = model_record(model_dataset, model_parameters)
    check_model(processing, record, f"model {model}")
    months, kept, dropped, cs, mean, mean_info = corrected_months(
        files, fmt, processing, corrections
    )
    notes = [{"month": m.label, "span": f"{m.start} .. {m.end}", "source": m.source,
              "corrections": m.info.get("corrections", {})} for m in kept]  # fmt: skip
    with SeriesWriter(
        out_series,
        cs=cs,
        mean=mean,
        start=[m.start for m in kept],
        end=[m.end for m in kept],
        sources=[m.source for m in kept],
        gm=GM,
        radius=R_EARTH,
        fmt=fmt,
        corrections={"months": notes},
    ):
        pass  # fmt: skip
    truth = truth_grids(truth, record, kept, mean_info) if truth else None
    mids = np.array([m.mid for m in kept]).astype(np.int64)
    trip = write_samples(out_samples, record, _grids(cs, record), mids, _year_groups(kept), truth)
    report = {
        "model": model, "processing": processing,
        "inputs": [{"file": m.source, "sha256": m.sha256, "span": f"{m.start} .. {m.end}",
                    **{k: v for k, v in m.info.items() if k != "corrections"}}
                   for m in months],
        "months": notes, "dropped": dropped, "mean": mean_info, "frames": _frames(corrections),
        "time_round_trip_rel_rms": trip, "truth": truth is not None,
        "deltat": timestep.label(processing["deltat"]),
    }  # fmt: skip
    write_text(out_report, yaml.safe_dump(plain(report), sort_keys=False, width=100))
    log.info("%d months prepared (%d dropped) for model %s", len(kept), len(dropped), model)
    return report
