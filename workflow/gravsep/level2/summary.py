"""The HTML summary of an apply run (``summary.html``, in the Snakemake report)."""

import html

STYLE = (
    "body{font-family:sans-serif;max-width:70em} table{border-collapse:collapse;"
    "margin-bottom:1em} td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
)


def _table(rows, columns):
    if not rows:
        return "<p>none</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _corrections(months):
    rows = []
    for m in months:
        c = m.get("corrections", {})
        tn14, tn13 = c.get("TN-14"), c.get("TN-13")
        rows.append({
            "month": m["month"], "span": m["span"],
            "C20/C30 (TN-14)": "-" if not tn14 else
            f"C20{' and C30' if tn14['C30'] else ''}: line {tn14['line']} ({tn14['span']}, "
            f"overlap {tn14['overlap']})",
            "degree 1 (TN-13)": "-" if not tn13 else
            f"line {tn13['line']} ({tn13['span']}), x {tn13['factor']:.6f}",
        })  # fmt: skip
    return _table(rows, ["month", "span", "C20/C30 (TN-14)", "degree 1 (TN-13)"])


def _metrics(metrics):
    if metrics.empty:
        return "<p>No truth is known for these data: no apply-versus-truth errors.</p>"
    table = metrics.pivot_table(index=["year", "component"], columns="method", values="rel_rms")
    order = [c for c in metrics["component"].unique() if c != "sum"] + ["sum"]
    table = table.reindex(order, level=1)
    return (table * 100).to_html(float_format=lambda x: f"{x:.1f}", border=0)


def summary_html(name, model, report, res, metrics, cells):
    """The summary page (inputs, corrections, mean, frames, residuals, errors, regions)."""
    proc = report["processing"]
    mean = report["mean"]
    mean_text = (
        "not removed" if not mean.get("removed")
        else f"file {mean['file']}" if "file" in mean
        else f"mean of {len(mean['months'])} months {mean['period'][0]} .. {mean['period'][1]}"
    )  # fmt: skip
    parts = [
        f"<h2>Apply {html.escape(name)}: model {html.escape(model)}</h2>",
        f"<p>{len(report['inputs'])} input files, {len(report['months'])} months separated "
        f"into {', '.join(proc['components'])}; processing: time step {proc['deltat']}, degree "
        f"{proc['nmax']}, Gaussian filter degree {proc['nmax_flt']}, unit {proc['unit']} "
        "(the model's, checked).</p>",
        "<h3>Corrections by month</h3>",
        _corrections(report["months"]),
        "<h3>Dropped months</h3>",
        _table(report["dropped"], ["month", "source", "reason"]),
        f"<h3>Mean field</h3><p>{html.escape(mean_text)}</p>",
        "<h3>Degree-1 frames</h3><p>data: "
        + html.escape(report["frames"]["data"])
        + "; training fields and EWH conversion: "
        + html.escape(report["frames"]["training"])
        + " (docs/level2.md).</p>",
        "<h3>Sum of the components</h3>",
        f"<p>Relative RMS of the input the network saw minus the sum of the separated "
        f"components: {100 * res['constraint']:.2f} % (the model is not constrained to the "
        f"sum unless trained with a sum weight); of the time resampling round trip of the "
        f"input (months to {proc['deltat']} samples and back): {100 * res['time_round_trip']:.3f} "
        f"%; in total, corrected input minus the sum: {100 * res['total']:.2f} %.</p>",
        "<h3>Apply versus truth (relative RMS error, %)</h3>",
        _metrics(metrics),
        "<h3>Regions</h3>",
        _table([{"region": k, "cells": v} for k, v in cells.items()], ["region", "cells"]),
    ]
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>apply {html.escape(name)}'
            f"</title><style>{STYLE}</style></head><body>\n" + "\n".join(parts)
            + "\n</body></html>\n")  # fmt: skip
