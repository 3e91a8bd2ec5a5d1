"""GRACE/GRACE-FO Level-2 GSM files of release 6 (RL06): reader and writer.

Layout (GRACE-FO Level-2 Product User Handbook, JPL D-103922; gravity-toolkit's
GRACE-Data-File-Formats page)
--------------------------------------------------------------------------------------
Name
    ``PID-2_YYYYDOY-yyyydoy_MSSN_CENTER_FLAG_RRRR[.gz]``: PID ``GSM`` (also ``GAA``, ``GAB``,
    ``GAC``, ``GAD``), first and last day of the data span as year and day of year, mission
    ``GRAC`` or ``GRFO``, centre (``UTCSR``, ``GFZOP``, ``JPLEM``), a 4-character processing
    flag, the release (``0600``). Gzipped as distributed, or not.
Header
    YAML, ended by the line ``# End of YAML header``: a mapping ``header`` with
    ``dimensions`` (``degree``, ``order``), ``global_attributes`` (``title``, ...,
    ``time_coverage_start``, ``time_coverage_end``) and ``non-standard_attributes`` holding
    ``earth_gravity_param`` (``units`` m3/s2, ``value``), ``mean_equator_radius``
    (``units`` meters, ``value``), ``normalization`` (``fully normalized``),
    ``permanent_tide_flag`` and ``product_id``.
Records
    One line per degree l and order m: ``GRCOF2 l m C S sigmaC sigmaS begin end [flags]``,
    fully normalised dimensionless Stokes coefficients in the file's GM and radius, their
    formal standard deviations, and the data span ``yyyymmdd.hhmm`` (UTC; ``end`` is the
    instant the span ends, excluded). GSM files carry no degree 1 and often no degree 0: lines
    of degree 0 and 1 may be absent (read as zero); every (l, m) with l >= 2 up to the header's
    degree must appear once. ``GRDOTA`` drift records (releases 4 and 5) are refused.

Reading is bounded as :mod:`gravsep.formats.icgem`'s: the file (or its gzip stream) by the
degree, every line checked (field count, numbers, degree and order, one epoch range), errors
naming the file and line with a short excerpt. When the name follows the convention, its span
must agree with the records' (within a day). Nothing is rescaled here: the reader returns the
file's constants (:mod:`gravsep.level2.inputs` rescales).
"""

import datetime as dt
import gzip
import re
from pathlib import Path

import numpy as np
import yaml

from gravsep.atomic import atomic_output
from gravsep.formats.textfile import FormatError, excerpt, read_limited, to_float

#: The line that ends the YAML header.
END_OF_HEADER = "# End of YAML header"
#: Record keys: coefficients, and the drift records of old releases (refused).
RECORD, DRIFT = "GRCOF2", "GRDOTA"
#: The highest degree read; a header claiming more is refused.
MAX_DEGREE = 360
#: Bytes allowed for the header and per record line.
HEADER_BYTES = 256 << 10
LINE_BYTES = 256
#: The file-name convention (groups: pid, start, last, mission, center, flag, release).
NAME = re.compile(
    r"^(?P<pid>GSM|GAA|GAB|GAC|GAD)-2_(?P<start>\d{7})-(?P<last>\d{7})_(?P<mission>[A-Z]{4})_"
    r"(?P<center>[A-Z]+)_(?P<flag>[A-Za-z0-9]{4})_(?P<release>[A-Za-z0-9]{4})(\.txt)?(\.gz)?$"
)
_EPOCH = re.compile(r"^(\d{4})(\d{2})(\d{2})\.(\d{2})(\d{2})$")
_UNITS = {"m3/s2": 1.0, "m^3/s^2": 1.0, "m3 s-2": 1.0, "km3/s2": 1e9, "km^3/s^2": 1e9,
          "meters": 1.0, "meter": 1.0, "m": 1.0, "km": 1e3}  # fmt: skip


def max_file_bytes(nmax):
    """The most bytes a GSM file of degree ``nmax`` can hold (header and records)."""
    return HEADER_BYTES + (int(nmax) + 1) * (int(nmax) + 2) // 2 * LINE_BYTES


def parse_epoch(word):
    """``yyyymmdd.hhmm`` -> ``datetime64[s]``; ValueError if it is not one."""
    match = _EPOCH.match(word)
    if not match:
        raise ValueError(word)
    y, mo, d, h, mi = (int(g) for g in match.groups())
    return np.datetime64(dt.datetime(y, mo, d, h, mi), "s")


def format_epoch(t):
    """``datetime64`` -> ``yyyymmdd.hhmm``."""
    return dt.datetime.fromisoformat(str(np.datetime64(t, "s"))).strftime("%Y%m%d.%H%M")


def name_span(name):
    """First day 00 UTC and the end (the day after the last, 00 UTC) of a conventional
    file name, as ``datetime64[s]``; None if the name does not follow the convention."""
    match = NAME.match(Path(str(name)).name)
    if not match:
        return None

    def day(word):
        return np.datetime64(f"{word[:4]}-01-01", "s") + np.timedelta64(int(word[4:]) - 1, "D")

    return day(match["start"]), day(match["last"]) + np.timedelta64(1, "D")


def gsm_name(start, end, center="UTCSR", mission="GRAC", flag="BA01", release="0600",
             pid="GSM", gz=True):  # fmt: skip
    """The conventional name of a file whose data span is ``[start, end)``."""

    def doy(t):
        d = dt.datetime.fromisoformat(str(np.datetime64(t, "s")))
        return f"{d.year:04d}{d.timetuple().tm_yday:03d}"

    last = np.datetime64(end, "s") - np.timedelta64(1, "s")
    return f"{pid}-2_{doy(start)}-{doy(last)}_{mission}_{center}_{flag}_{release}" + (
        ".gz" if gz else ""
    )


def _split(text, name):
    """Header text, record lines and the line number of the first record line."""
    limit = text.find(END_OF_HEADER, 0, HEADER_BYTES)
    if limit < 0:
        raise FormatError(
            f"{name}: no '{END_OF_HEADER}' line in the first {HEADER_BYTES} bytes; is this a "
            "GSM RL06 file?"
        )
    line_end = text.find("\n", limit)
    line_end = len(text) if line_end < 0 else line_end
    first = text.count("\n", 0, line_end) + 2
    return text[:limit], text[line_end + 1 :].split("\n"), first


def _line_of(head, key, sub=None):
    """1-based line of ``key`` in the header (of ``sub`` in the block below it, if given)."""
    raw = head.split("\n")
    for i, line in enumerate(raw):
        if line.strip().startswith(key):
            if sub is None:
                return i + 1
            block = _block(raw, i)
            hit = next((k for k, ln in enumerate(block) if ln.startswith(sub)), None)
            return i + 2 + hit if hit is not None else i + 1
    return 0


def _block(raw, i):
    """The lines indented below line ``i`` (a key of a nested mapping), stripped."""
    depth = len(raw[i]) - len(raw[i].lstrip())
    out = []
    for line in raw[i + 1 :]:
        if line.strip() and len(line) - len(line.lstrip()) <= depth:
            break
        out.append(line.strip())
    return out


def _scan(head):
    """The header keys that matter, by scanning lines (for headers YAML cannot parse)."""
    raw = head.split("\n")
    lines = [ln.strip() for ln in raw]
    out = {}
    for key in ("earth_gravity_param", "mean_equator_radius"):
        idx = [i for i, ln in enumerate(lines) if ln.startswith(f"{key}:")]
        block = _block(raw, idx[0]) if idx else []
        fields = dict(ln.split(":", 1) for ln in block if ":" in ln)
        if "value" in fields:
            out[key] = {k.strip(): v.strip().strip("'\"") for k, v in fields.items()}
    for key in ("normalization", "permanent_tide_flag", "degree", "title"):
        hits = [ln.split(":", 1)[1].strip().strip("'\"") for ln in lines
                if ln.startswith(f"{key}:")]  # fmt: skip
        if hits:
            out[key] = hits[0]
    return out


def _header_fields(head, name):
    """``{key: value}`` of the header keys read (YAML, else a line scan)."""
    try:
        doc = yaml.safe_load(head)
    except yaml.YAMLError as err:
        doc, problem = None, err
    else:
        problem = None
    if isinstance(doc, dict) and isinstance(doc.get("header"), dict):
        h = doc["header"]
        nsa = h.get("non-standard_attributes") or {}
        fields = {
            k: nsa[k]
            for k in (
                "earth_gravity_param",
                "mean_equator_radius",
                "normalization",
                "permanent_tide_flag",
            )
            if k in nsa
        }
        fields["degree"] = (h.get("dimensions") or {}).get("degree")
        fields["title"] = (h.get("global_attributes") or {}).get("title", "")
        return fields
    fields = _scan(head)
    if "earth_gravity_param" not in fields or "mean_equator_radius" not in fields:
        mark = getattr(problem, "problem_mark", None)
        where = f"{name}, line {mark.line + 1}" if mark is not None else name
        raise FormatError(
            f"{where}: the YAML header does not parse ({getattr(problem, 'problem', problem)}) "
            "and holds no earth_gravity_param and mean_equator_radius values"
        )
    return fields


def _constant(fields, key, head, name):
    """A constant ``key`` of the header in SI units (its ``value`` times its ``units``)."""
    entry = fields.get(key)
    where = f"{name}, line {_line_of(head, key + ':', 'value:')}"
    if not isinstance(entry, dict) or "value" not in entry:
        raise FormatError(f"{name}: the header gives no non-standard_attributes.{key}.value")
    value = entry["value"]
    try:
        number = float(value) if not isinstance(value, str) else to_float(value.split()[0])
    except (ValueError, IndexError):
        raise FormatError(f"{where}: {key} value is not a number: {excerpt(str(value))}") from None
    units = str(entry.get("units", "")).strip()
    if units and units not in _UNITS:
        line = _line_of(head, key + ":", "units:")
        raise FormatError(f"{name}, line {line}: {key} has unknown units {excerpt(units)}")
    if not np.isfinite(number) or number <= 0:
        raise FormatError(f"{where}: {key} value {number} is not a positive number")
    return number * _UNITS.get(units, 1.0)


def _header(head, name, max_degree):
    fields = _header_fields(head, name)
    norm = str(fields.get("normalization", "")).strip()
    if not norm:
        raise FormatError(f"{name}: the header states no normalization (RL06 states it)")
    if norm.lower().replace("_", " ").replace("normalised", "normalized") != "fully normalized":
        raise FormatError(
            f"{name}, line {_line_of(head, 'normalization:')}: normalization is "
            f"{excerpt(norm)}; only fully normalized coefficients are read"
        )
    try:
        nmax = int(fields.get("degree"))
    except (TypeError, ValueError):
        raise FormatError(
            f"{name}, line {_line_of(head, 'degree:')}: header dimensions.degree is not an "
            f"integer: {excerpt(str(fields.get('degree')))}"
        ) from None
    if not 2 <= nmax <= max_degree:
        raise FormatError(f"{name}: header degree {nmax} outside 2..{max_degree}")
    return {
        "gm": _constant(fields, "earth_gravity_param", head, name),
        "radius": _constant(fields, "mean_equator_radius", head, name),
        "nmax": nmax,
        "norm": "fully normalized",
        "tide": str(fields.get("permanent_tide_flag", "")),
        "title": str(fields.get("title", "")),
    }


def _record(words, where, nmax):
    """``(l, m, values(4), begin, end)`` of one record line's words."""
    if words[0] == DRIFT:
        raise FormatError(
            f"{where}: a {DRIFT} drift record (releases 4 and 5); only RL06 {RECORD} records "
            "are read"
        )
    if words[0] != RECORD:
        raise FormatError(f"{where}: expected a '{RECORD}' record, got {excerpt(' '.join(words))}")
    if len(words) not in (9, 10):
        raise FormatError(
            f"{where}: expected 9 or 10 fields, got {len(words)}: {excerpt(' '.join(words))}"
        )
    try:
        n, m = int(words[1]), int(words[2])
        values = [to_float(w) for w in words[3:7]]
        begin, end = parse_epoch(words[7]), parse_epoch(words[8])
    except ValueError:
        raise FormatError(f"{where}: not a number or epoch in {excerpt(' '.join(words))}") from None
    if not 0 <= m <= n <= nmax:
        raise FormatError(f"{where}: invalid degree/order l={n}, m={m} (header degree {nmax})")
    if not np.all(np.isfinite(values)):
        raise FormatError(f"{where}: NaN or infinite value")
    return n, m, values, begin, end


def _records(lines, first, nmax, name):
    """Coefficients, sigmas and the data span of the record lines."""
    cs = np.zeros((2, nmax + 1, nmax + 1))
    sigma = np.zeros_like(cs)
    line_of = np.zeros((nmax + 1, nmax + 1), dtype=np.int64)
    span = None
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        where = f"{name}, line {first + i}"
        if len(raw) > LINE_BYTES:
            raise FormatError(f"{where}: {len(raw)} bytes, longer than a record: {excerpt(raw)}")
        n, m, values, begin, end = _record(raw.split(), where, nmax)
        if span is None:
            span, span_line = (begin, end), first + i
        elif (begin, end) != span:
            raise FormatError(
                f"{where}: epoch range {begin} .. {end} differs from line {span_line}'s "
                f"{span[0]} .. {span[1]}"
            )
        if line_of[n, m]:
            raise FormatError(
                f"{where}: coefficient l={n}, m={m} appears again (first on line {line_of[n, m]})"
            )
        line_of[n, m] = first + i
        cs[:, n, m] = values[:2]
        sigma[:, n, m] = values[2:]
    if span is None:
        raise FormatError(f"{name}: no {RECORD} records after the header")
    nn, mm = np.tril_indices(nmax + 1)
    missing = np.flatnonzero((line_of[nn, mm] == 0) & (nn >= 2))
    if missing.size:
        k = missing[0]
        raise FormatError(
            f"{name}: {missing.size} record(s) missing for degree {nmax}, first l={nn[k]}, "
            f"m={mm[k]} (truncated file?)"
        )
    if span[1] <= span[0]:
        raise FormatError(f"{name}: epoch range {span[0]} .. {span[1]} is empty")
    return cs, sigma, span


def read_gsm(source, max_degree=MAX_DEGREE):
    """Read a GSM RL06 file (layout in the module docstring).

    Parameters
    ----------
    source : path-like, bytes or str
        The file (gzip recognised by content), its bytes, or its text.
    max_degree : int
        The highest degree accepted; also bounds the bytes read.

    Returns
    -------
    cs, sigma : numpy.ndarray
        ``(2, N+1, N+1)`` coefficients and formal standard deviations as in the file
        (dimensionless, the file's GM and radius); degrees the file lacks are zero.
    info : dict
        ``gm`` [m^3 s^-2], ``radius`` [m], ``nmax``, ``norm``, ``tide``, ``title``, ``start``
        and ``end`` (``datetime64[s]``, end excluded), ``name`` (the source's name).

    Raises
    ------
    FormatError
        Naming the file and, for a bad line, the line (1-based).
    """
    text, name = read_limited(source, max_file_bytes(max_degree))
    head, lines, first = _split(text, name)
    info = _header(head, name, max_degree)
    if len(text) > max_file_bytes(info["nmax"]):
        raise FormatError(
            f"{name}: more bytes than a file of degree {info['nmax']} holds; refusing to read it"
        )
    cs, sigma, (start, end) = _records(lines, first, info["nmax"], name)
    named = name_span(name)
    day = np.timedelta64(1, "D")
    if named is not None and (abs(named[0] - start) > day or abs(named[1] - end) > day):
        raise FormatError(
            f"{name}: the records' span {start} .. {end} differs from the name's "
            f"{named[0]} .. {named[1]}"
        )
    info.update(start=start, end=end, name=name)
    return cs, sigma, info


def _header_text(nmax, start, end, gm, radius, title, summary, institution, tide):
    """The YAML header (with its end line) of :func:`format_gsm`."""
    last = np.datetime64(end, "s") - np.timedelta64(1, "s")
    header = {"header": {
        "dimensions": {"degree": int(nmax), "order": int(nmax)},
        "global_attributes": {
            "title": title, "summary": summary, "institution": institution,
            "processing_level": "2", "product_version": "6.0",
            "time_coverage_start": f"{np.datetime64(start, 's')}.00",
            "time_coverage_end": f"{last}.99",
        },
        "non-standard_attributes": {
            "format_id": {"short_name": RECORD,
                          "long_name": "Earth Gravity Spherical Harmonic Model Format 2"},
            "earth_gravity_param": {"long_name": "gravitational constant times mass of Earth",
                                    "units": "m3/s2", "value": float(gm)},
            "mean_equator_radius": {"long_name": "mean equator radius", "units": "meters",
                                    "value": float(radius)},
            "normalization": "fully normalized",
            "permanent_tide_flag": tide,
            "product_id": "GSM-2",
        },
    }}  # fmt: skip
    return yaml.safe_dump(header, sort_keys=False, width=90) + END_OF_HEADER + "\n"


def format_gsm(cs, sigma, start, end, gm, radius, *, title, summary="", institution="",
               tide="inclusive", min_degree=2):  # fmt: skip
    """GSM RL06 text of coefficients ``(2, N+1, N+1)`` (in the constants ``gm``, ``radius``).

    Records run from degree ``min_degree`` (2: no degree 0 and 1, as GSM files) to N, l then
    m ascending, 13 significant digits; the span ``[start, end)`` on every record.
    """
    cs = np.asarray(cs, dtype=np.float64)
    nmax = cs.shape[-1] - 1
    if cs.shape != (2, nmax + 1, nmax + 1):
        raise ValueError(f"coefficients must have shape (2, N+1, N+1), got {cs.shape}")
    sigma = np.zeros_like(cs) if sigma is None else np.asarray(sigma, dtype=np.float64)
    b, e = format_epoch(start), format_epoch(end)
    n, m = np.tril_indices(nmax + 1)
    keep = n >= min_degree
    rows = zip(n[keep], m[keep], cs[0, n, m][keep], cs[1, n, m][keep], sigma[0, n, m][keep],
               sigma[1, n, m][keep], strict=True)  # fmt: skip
    body = "".join(
        f"{RECORD} {a:5d}{c:5d} {x: .12e} {y: .12e} {sx:.4e} {sy:.4e} {b} {e} nnnn\n"
        for a, c, x, y, sx, sy in rows
    )
    head = _header_text(nmax, start, end, gm, radius, title, summary, institution, tide)
    return head + body


def write_gsm(path, cs, sigma, start, end, gm, radius, **kwargs):
    """Write :func:`format_gsm` text to ``path`` atomically; gzipped where it ends in .gz
    (deterministic: no time stamp in the gzip header)."""
    data = format_gsm(cs, sigma, start, end, gm, radius, **kwargs).encode("ascii")
    if str(path).endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    with atomic_output(path) as tmp:
        Path(tmp).write_bytes(data)
    return Path(path)
