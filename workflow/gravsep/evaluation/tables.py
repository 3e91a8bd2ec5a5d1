"""Tables of the metrics of all models, and a check that the network beats the baselines.

Input rows are those of :func:`gravsep.evaluation.evaluate.evaluate`: columns
``model, input_noise, method, split, year, component, rel_rms`` (relative RMS error,
dimensionless; ``input_noise`` the noise of the input, ``none`` or the noise definition's id).
"""

import html

import numpy as np
import pandas as pd

from gravsep.atomic import write_csv, write_text
from gravsep.evaluation.evaluate import CSV_COLUMNS, NETWORK

SPLIT_ORDER = ("test", "validation", "apply")


def merge(csv_paths):
    """Concatenate per-model metrics CSVs into one table.

    Parameters
    ----------
    csv_paths : iterable of path-like

    Returns
    -------
    pandas.DataFrame
        Columns :data:`gravsep.evaluation.evaluate.CSV_COLUMNS`, sorted by model, split, year.
    """
    frames = [pd.read_csv(p) for p in csv_paths]
    if not frames:
        return pd.DataFrame(columns=CSV_COLUMNS)
    df = pd.concat(frames, ignore_index=True)
    missing = set(CSV_COLUMNS) - set(df.columns)
    if missing:
        raise ValueError(f"metrics tables lack columns {sorted(missing)}")
    for key in ("model", "input_noise", "component"):
        df[key] = df[key].astype(str)
    order = ["model", "input_noise", "split", "year"]
    return df.sort_values(order, kind="stable").reset_index(drop=True)[CSV_COLUMNS]


def _ordered(values, first=()):
    seen = list(dict.fromkeys(values))
    return [v for v in first if v in seen] + [v for v in seen if v not in first]


def pivot(df, split):
    """Relative RMS errors of one split: rows (model, input noise, component), columns method.

    Values are means over the split's years (one year per split in the standard setup).
    Components keep their order of appearance with ``sum`` last; the network comes first.
    """
    sub = df[df["split"] == split]
    if sub.empty:
        return pd.DataFrame()
    keys = ["model", "input_noise", "component"]
    table = sub.pivot_table(index=keys, columns="method", values="rel_rms", aggfunc="mean")
    comps = _ordered(sub["component"])
    comps = [c for c in comps if c != "sum"] + (["sum"] if "sum" in comps else [])
    runs = list(dict.fromkeys(zip(sub["model"], sub["input_noise"], strict=True)))
    index = [(m, n, c) for m, n in runs for c in comps if (m, n, c) in table.index]
    methods = _ordered(sub["method"], first=(NETWORK,))
    table = table.reindex(index=pd.MultiIndex.from_tuples(index, names=keys))
    return table[methods]


def to_html(df):
    """HTML page with one pivoted table (:func:`pivot`) per split, errors in percent."""
    parts = [
        "<h2>Relative RMS prediction errors [%]</h2>",
        "<p>RMS(prediction - truth) / RMS(truth), area-weighted over the grid and the year's "
        "windows; lower is better. Baselines: <em>zero</em> predicts nothing (100 %), "
        "<em>proportional</em> splits the input by the components' training variances, "
        "<em>pca</em> fits the components' training EOFs, <em>filter_pca</em> destripes and "
        "smooths the input first (the classical chain), <em>regression</em> maps the whole input "
        "map linearly to each component (ridge regression on the training years, its "
        "regularisation chosen on the validation years). <em>input_noise</em>: the noise of the "
        "input (<em>none</em>, or the noise definition's id). "
        "Row <em>sum</em>: error of the summed components. Split <em>apply</em>: a model "
        "applied to Level-2 files whose truth is known (the embedded demonstration).</p>",
    ]
    for split in SPLIT_ORDER:
        table = pivot(df, split)
        if table.empty:
            continue
        years = sorted({int(y) for y in df.loc[df["split"] == split, "year"]})
        parts.append(f"<h3>{html.escape(split)} ({', '.join(map(str, years))})</h3>")
        parts.append(
            (table * 100).to_html(
                float_format=lambda x: f"{x:.1f}", na_rep="-", border=0, classes="metrics"
            )
        )
    style = (
        "body{font-family:sans-serif} table.metrics{border-collapse:collapse;margin-bottom:1em}"
        " table.metrics td,table.metrics th{padding:2px 8px;border-bottom:1px solid #ddd}"
        " table.metrics td{text-align:right}"
    )
    head = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">'
        f"<title>Relative RMS prediction errors</title><style>{style}</style></head><body>"
    )
    return "\n".join([head, *parts, "</body></html>"]) + "\n"


def write_tables(csv_paths, out_csv, out_html):
    """Merge per-model metrics CSVs and write the merged CSV and the HTML table.

    Returns
    -------
    pandas.DataFrame
        The merged table.
    """
    df = merge(csv_paths)
    write_csv(df, out_csv, index=False, float_format="%.6g")
    write_text(out_html, to_html(df))
    return df


def unet_beats_baselines(df, split="test", network=NETWORK, components=None):
    """Cases where the network is not better than a baseline.

    Compares ``rel_rms`` of ``network`` with every other method per model, year and
    component. The component ``sum`` is skipped by default: the proportional baseline
    reproduces the input's sum exactly.

    Parameters
    ----------
    df : pandas.DataFrame
        Metrics rows.
    split : str
        Split to check.
    network : str
        Method name of the network.
    components : iterable of str, optional
        Components to check; default all but ``sum``.

    Returns
    -------
    list of str
        One message per failure (network error not below the baseline's, or missing);
        empty if the network wins everywhere.
    """
    sub = df[df["split"] == split]
    if components is not None:
        sub = sub[sub["component"].isin(list(components))]
    else:
        sub = sub[sub["component"] != "sum"]
    failures = []
    if sub.empty:
        return [f"no metrics for split {split!r}"]
    keys = ["model", "input_noise", "year", "component"]
    for (model, noise, year, comp), grp in sub.groupby(keys, sort=True):
        values = grp.groupby("method")["rel_rms"].mean()
        where = f"model {model} (input noise {noise}), {split} year {year}, component {comp}"
        if network not in values.index or not np.isfinite(values[network]):
            failures.append(f"{where}: no {network} result")
            continue
        for method, v in values.items():
            if method == network or not np.isfinite(v):
                continue
            if not values[network] < v:
                failures.append(
                    f"{where}: {network} rel. RMS {values[network]:.3f} not below {method} {v:.3f}"
                )
    return failures
