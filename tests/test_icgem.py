"""Reading and writing ICGEM coefficient files (gravsep.formats.icgem)."""

import gzip

import numpy as np
import pytest
from gravsep.atomic import temporary_path
from gravsep.constants import GM, R_EARTH
from gravsep.formats.icgem import ICGEMError, format_icgem, read_icgem, write_icgem
from hypothesis import given, settings
from hypothesis import strategies as st


def reference_parse(text):
    """Straightforward line-by-line parse: (cs, sigma or None) of ICGEM text."""
    lines = text.replace("\r\n", "\n").split("\n")
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith("end_of_head")) + 1
    rows = [ln.split() for ln in lines[start:] if ln.strip()]
    nmax = max(int(r[1]) for r in rows)
    cs = np.zeros((2, nmax + 1, nmax + 1))
    for r in rows:
        n, m = int(r[1]), int(r[2])
        vals = [float(w.replace("D", "E").replace("d", "e")) for w in r[3:]]
        cs[0, n, m], cs[1, n, m] = vals[0], vals[1]
    return cs


def random_cs(rng, nmax, spread=True):
    cs = rng.normal(size=(2, nmax + 1, nmax + 1))
    if spread:
        cs *= 10.0 ** rng.integers(-25, 5, size=cs.shape)
    n, m = np.indices((nmax + 1, nmax + 1))
    cs[:, m > n] = 0.0
    cs[1, :, 0] = 0.0
    return cs


def data_lines(text):
    """(1-based line number, line) of each gfc line."""
    return [(i + 1, ln) for i, ln in enumerate(text.split("\n")) if ln.startswith("gfc")]


def replace_line(text, lineno, new):
    lines = text.split("\n")
    lines[lineno - 1] = new
    return "\n".join(lines)


@pytest.fixture
def text():
    return format_icgem(random_cs(np.random.default_rng(7), 4))


# ---------------------------------------------------------------- round trip and formats


def test_round_trip_matches_text_precision(tmp_path):
    rng = np.random.default_rng(1)
    cs = random_cs(rng, 6)
    path = tmp_path / "x.gfc"
    write_icgem(path, cs, modelname="test", gm=3.5e14, radius=6.4e6)
    assert not temporary_path(tmp_path / "x.gfc").exists()
    text = path.read_text()
    got, header = read_icgem(path)
    # bit for bit what the text says, and the text holds 13 significant digits
    np.testing.assert_array_equal(got, reference_parse(text))
    np.testing.assert_allclose(got, cs, rtol=5.1e-13, atol=0)
    assert header["max_degree"] == 6
    assert header["gm"] == 3.5e14
    assert header["radius"] == 6.4e6
    assert header["errors"] == "no"
    assert header["modelname"] == "test"
    # one line per (n, m), n ascending, then m
    nm = [tuple(int(w) for w in ln.split()[1:3]) for _, ln in data_lines(text)]
    assert nm == [(n, m) for n in range(7) for m in range(n + 1)]


def test_header_defaults_when_absent():
    body = "\n".join(["end_of_head", "gfc 0 0 1.0 0.0", "gfc 1 0 2.0 0.0", "gfc 1 1 3.0 4.0"])
    cs, header = read_icgem(body + "\n")
    assert header["gm"] == GM and header["radius"] == R_EARTH and header["max_degree"] == 1
    np.testing.assert_array_equal(cs, [[[1, 0], [2, 3]], [[0, 0], [0, 4]]])


def test_fortran_and_e_exponents(text):
    # mix D, d, E, e exponents line by line
    marks = ["D", "d", "E", "e"]
    out = []
    for i, ln in enumerate(text.split("\n")):
        out.append(ln.replace("D", marks[i % 4]) if ln.startswith("gfc") else ln)
    mixed = "\n".join(out)
    assert "d+" in mixed or "d-" in mixed
    got, _ = read_icgem(mixed)
    np.testing.assert_array_equal(got, reference_parse(text))


def test_agrees_with_pyshtools_bit_for_bit(tmp_path):
    shio = pytest.importorskip("pyshtools.shio")
    rng = np.random.default_rng(3)
    for k, nmax in enumerate([2, 5, 12]):
        cs = random_cs(rng, nmax)
        text = format_icgem(cs)
        if k == 1:
            text = text.replace("D", "d")
        if k == 2:
            text = text.replace("D", "E")
        path = tmp_path / f"m{k}.gfc"
        path.write_text(text)
        cilm, gm, r0 = shio.read_icgem_gfc(str(path))
        got, header = read_icgem(path)
        assert got.dtype == cilm.dtype and got.shape == cilm.shape
        np.testing.assert_array_equal(got, cilm)
        assert header["gm"] == gm and header["radius"] == r0
        # also for a gzip file (pyshtools recognises .gz by name)
        gz = tmp_path / f"m{k}.gfc.gz"
        gz.write_bytes(gzip.compress(text.encode()))
        np.testing.assert_array_equal(read_icgem(gz)[0], shio.read_icgem_gfc(str(gz))[0])


def test_crlf_gzip_bytes_and_string_inputs(tmp_path, text):
    expected = reference_parse(text)
    crlf = text.replace("\n", "\r\n")
    np.testing.assert_array_equal(read_icgem(crlf)[0], expected)
    np.testing.assert_array_equal(read_icgem(crlf.encode())[0], expected)
    path = tmp_path / "crlf.gfc"
    path.write_bytes(crlf.encode())
    np.testing.assert_array_equal(read_icgem(path)[0], expected)
    # gzip recognised by its content, whatever the name
    gz = tmp_path / "plain_name.180"
    gz.write_bytes(gzip.compress(crlf.encode()))
    np.testing.assert_array_equal(read_icgem(gz)[0], expected)
    np.testing.assert_array_equal(read_icgem(str(gz))[0], expected)
    np.testing.assert_array_equal(read_icgem(gzip.compress(text.encode()))[0], expected)


def test_sigma_columns(text):
    rng = np.random.default_rng(5)
    out = []
    for ln in text.split("\n"):
        if ln.startswith("gfc"):
            sc, ss = np.abs(rng.normal(size=2)) * 1e-12
            ln = f"{ln} {sc:.6e} {ss:.6e}".replace("e", "D")
        out.append(ln)
    seven = "\n".join(out)
    assert all(len(ln.split()) == 7 for _, ln in data_lines(seven))
    cs, header = read_icgem(seven)
    np.testing.assert_array_equal(cs, reference_parse(text))
    assert header["errors"] == "no"  # the header says so; the columns are accepted


def test_trailing_blank_lines_and_leading_blank_line(text):
    expected = reference_parse(text)
    np.testing.assert_array_equal(read_icgem(text + "\n\n   \n")[0], expected)
    np.testing.assert_array_equal(read_icgem(text.replace("\n", "\r\n") + "\r\n \r\n")[0], expected)
    with_blank = text.replace("end_of_head\n", "end_of_head\n\n")
    np.testing.assert_array_equal(read_icgem(with_blank)[0], expected)


def test_nmax_argument_accepts_matching_file(text):
    cs, header = read_icgem(text, nmax=4)
    assert cs.shape == (2, 5, 5) and header["max_degree"] == 4


# ---------------------------------------------------------------- errors


def write(tmp_path, text, name="bad.gfc"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_truncated_file_names_file_and_first_missing(tmp_path, text):
    lines = text.split("\n")
    cut = "\n".join(lines[:-4]) + "\n"  # drop the last 3 gfc lines (and the final "")
    path = write(tmp_path, cut)
    with pytest.raises(ICGEMError) as err:
        read_icgem(path)
    msg = str(err.value)
    assert str(path) in msg and "missing" in msg
    # the first missing coefficient is the first dropped line's (n, m)
    n, m = lines[-4].split()[1:3]
    assert f"n={n}, m={m}" in msg


@pytest.mark.parametrize("token", ["NaN", "nan", "inf", "-Infinity"])
def test_nan_coefficient_names_line(tmp_path, text, token):
    lineno, line = data_lines(text)[7]
    words = line.split()
    words[4] = token
    path = write(tmp_path, replace_line(text, lineno, " ".join(words)))
    with pytest.raises(ICGEMError, match=rf"{path}, line {lineno}\b"):
        read_icgem(path)


def test_duplicated_coefficient_names_both_lines(tmp_path, text):
    rows = data_lines(text)
    (l1, first), (l2, second) = rows[4], rows[9]
    words = second.split()
    words[1:3] = first.split()[1:3]
    path = write(tmp_path, replace_line(text, l2, " ".join(words)))
    with pytest.raises(ICGEMError) as err:
        read_icgem(path)
    msg = str(err.value)
    assert f"{path}, line {l2}" in msg and f"line {l1}" in msg


def test_missing_end_of_head(tmp_path, text):
    path = write(tmp_path, text.replace("end_of_head", "end_of_header_missing"))
    path2 = write(tmp_path, "\n".join(ln for ln in text.split("\n") if ln != "end_of_head"), "b")
    for p in (path, path2):
        with pytest.raises(ICGEMError, match="end_of_head") as err:
            read_icgem(p)
        assert str(p) in str(err.value)


def test_wrong_max_degree(tmp_path, text):
    path = write(tmp_path, text)
    for nmax in (3, 5):
        with pytest.raises(ICGEMError, match=r"max_degree is 4, expected " + str(nmax)) as err:
            read_icgem(path, nmax=nmax)
        assert str(path) in str(err.value)
    # no header max_degree: the data decide, and a too-small nmax names the first bad line
    nohead = "\n".join(ln for ln in text.split("\n") if not ln.startswith("max_degree"))
    path = write(tmp_path, nohead, "nohead.gfc")
    assert read_icgem(path)[0].shape == (2, 5, 5)
    first_deg4 = next(i for i, ln in data_lines(nohead) if ln.split()[1] == "4")
    with pytest.raises(ICGEMError, match=rf"{path}, line {first_deg4}: degree 4 exceeds"):
        read_icgem(path, nmax=3)
    with pytest.raises(ICGEMError, match="missing"):
        read_icgem(path, nmax=5)


@pytest.mark.parametrize("bad", ["abc", "1.0.0", "1.5D", "0x10", "--1"])
def test_not_a_number_names_line(tmp_path, text, bad):
    lineno, line = data_lines(text)[5]
    words = line.split()
    words[3] = bad
    path = write(tmp_path, replace_line(text, lineno, " ".join(words)))
    with pytest.raises(ICGEMError, match=rf"{path}, line {lineno}:"):
        read_icgem(path)


@pytest.mark.parametrize("row", [0, 6])
@pytest.mark.parametrize("change", ["extra", "short"])
def test_wrong_column_count_names_line(tmp_path, text, row, change):
    lineno, line = data_lines(text)[row]
    words = line.split()
    words = words + ["1.0"] if change == "extra" else words[:-1]
    path = write(tmp_path, replace_line(text, lineno, " ".join(words)))
    with pytest.raises(ICGEMError, match=rf"{path}, line {lineno}:.*columns"):
        read_icgem(path)


def test_non_integer_or_invalid_degree_order(tmp_path, text):
    lineno, line = data_lines(text)[3]
    words = line.split()
    words[2] = "1.5"
    path = write(tmp_path, replace_line(text, lineno, " ".join(words)))
    with pytest.raises(ICGEMError, match=rf"{path}, line {lineno}:"):
        read_icgem(path)
    words = line.split()
    words[2] = str(int(words[1]) + 1)  # m > n
    path = write(tmp_path, replace_line(text, lineno, " ".join(words)), "mn.gfc")
    with pytest.raises(ICGEMError, match=rf"{path}, line {lineno}: invalid degree/order"):
        read_icgem(path)


def test_other_line_key_in_data(tmp_path, text):
    lineno, line = data_lines(text)[2]
    path = write(tmp_path, replace_line(text, lineno, line.replace("gfc", "gfct")))
    with pytest.raises(ICGEMError, match=rf"{path}, line {lineno}:"):
        read_icgem(path)


def test_corrupt_gzip(tmp_path, text):
    path = tmp_path / "x.gfc.gz"
    path.write_bytes(gzip.compress(text.encode())[:-30])
    with pytest.raises(ICGEMError, match="gzip") as err:
        read_icgem(path)
    assert str(path) in str(err.value)


def test_format_rejects_bad_shape():
    with pytest.raises(ValueError):
        format_icgem(np.zeros((2, 3, 4)))


# ---------------------------------------------------------------- property


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@st.composite
def coefficients(draw):
    nmax = draw(st.integers(0, 4))
    k = (nmax + 1) * (nmax + 2) // 2
    c = draw(st.lists(finite, min_size=k, max_size=k))
    s = draw(st.lists(finite, min_size=k, max_size=k))
    cs = np.zeros((2, nmax + 1, nmax + 1))
    n, m = np.tril_indices(nmax + 1)
    cs[0, n, m], cs[1, n, m] = c, s
    return cs


@settings(max_examples=60, deadline=None)
@given(coefficients())
def test_property_round_trip(cs):
    text = format_icgem(cs)
    got, header = read_icgem(text)
    assert header["max_degree"] == cs.shape[-1] - 1
    np.testing.assert_array_equal(got, reference_parse(text))
    # 13 significant digits; subnormals keep less relative precision
    np.testing.assert_allclose(got, cs, rtol=5.1e-13, atol=1e-310)
    n, m = np.indices(cs.shape[1:])
    assert not got[:, m > n].any()


# ---------------------------------------------------------------- column-wise fast path


def fixed_width_text(tokens_c, tokens_s, nmax):
    """ICGEM text with every data line of one length (what the column-wise path reads)."""
    n, m = np.tril_indices(nmax + 1)
    body = [
        f"gfc {a:4d} {b:4d} {c} {s}" for a, b, c, s in zip(n, m, tokens_c, tokens_s, strict=True)
    ]
    return "\n".join(["max_degree " + str(nmax), "end_of_head", *body]) + "\n"


def decimal_tokens(rng, count, digits, exp_low, exp_high, letter="D"):
    """Fixed-width decimals ``±d.ddd…D±eee``: ``digits`` significant digits, 3-digit exponent."""
    mant = rng.integers(10 ** (digits - 1), 10**digits, size=count, dtype=np.int64)
    mant[rng.random(count) < 0.02] = 0
    exps = rng.integers(exp_low, exp_high + 1, size=count)
    signs = rng.choice(["+", "-", " "], size=count)
    out = []
    for s, mt, e in zip(signs, mant, exps, strict=True):
        text = str(mt).rjust(digits, "0")
        out.append(f"{s}{text[0]}.{text[1:]}{letter}{'-' if e < 0 else '+'}{abs(e):03d}")
    return out


def near_halfway_tokens(rng, count, digits):
    """Decimals of ``digits`` digits closest to points halfway between two doubles: for 18
    digits, within 2**-62 of one (relative), where a product in 64-bit long double can fall on
    the wrong side (the inputs a conversion with too little care rounds the wrong way)."""
    from decimal import Decimal, getcontext

    getcontext().prec = 1200
    hard, near = [], []
    for _ in range(200 * count):
        d = float(rng.normal() * 10.0 ** rng.integers(-30, 30))
        mid = (Decimal(d) + Decimal(np.nextafter(d, np.inf))) / 2  # exact
        sign, dig, exp = mid.as_tuple()
        text = "".join(map(str, dig)).ljust(digits + 1, "0")
        head = int(text[:digits]) + (text[digits] >= "5")  # the nearest decimal
        if head == 10**digits:
            continue
        e10 = len(dig) + exp - 1
        value = Decimal(head).scaleb(e10 - digits + 1)
        t = str(head)
        token = f"{'-' if sign else '+'}{t[0]}.{t[1:]}D{'-' if e10 < 0 else '+'}{abs(e10):03d}"
        close = abs(value - abs(mid)) < abs(mid) * Decimal(2) ** -62
        (hard if close else near).append(token)
        if len(hard) == count:
            break
    return (hard + near)[:count]


@pytest.mark.parametrize("portable", [False, True])
@pytest.mark.parametrize("digits", [13, 18])
def test_column_wise_conversion_equals_float(monkeypatch, portable, digits):
    """Every value equals Python's correctly rounded float() of its text, across the
    exponent range (subnormal to near overflow) and next to halfway points; the
    portable path (no x87 long double) gives the same."""
    import gravsep.formats.decimal_conversion as decimal_conversion
    import gravsep.formats.icgem as icgem

    if portable:
        monkeypatch.setattr(decimal_conversion, "_X87", False)

    def no_general(*args, **kwargs):
        raise AssertionError("the column-wise path refused an equally formatted file")

    monkeypatch.setattr(icgem, "_parse_general", no_general)
    rng = np.random.default_rng(digits)
    nmax = 40
    count = (nmax + 1) * (nmax + 2) // 2
    c = decimal_tokens(rng, count, digits, -330, 305)
    c[: count // 3] = near_halfway_tokens(rng, count // 3, digits)
    s = decimal_tokens(rng, count, digits, -40, 10, letter="e")
    text = fixed_width_text(c, s, nmax)
    got, _ = read_icgem(text)
    n, m = np.tril_indices(nmax + 1)
    want_c = np.array([float(t.replace("D", "E")) for t in c])
    want_s = np.array([float(t) for t in s])
    np.testing.assert_array_equal(got[0, n, m].view(np.uint64), want_c.view(np.uint64))
    np.testing.assert_array_equal(got[1, n, m].view(np.uint64), want_s.view(np.uint64))


def test_column_wise_path_reads_written_files(monkeypatch, tmp_path):
    """format_icgem's output (and its CRLF and sigma variants) takes the column-wise path."""
    import gravsep.formats.icgem as icgem

    text = format_icgem(random_cs(np.random.default_rng(11), 30))
    expected = reference_parse(text)
    monkeypatch.setattr(icgem, "_parse_general", None)  # calling it would fail
    np.testing.assert_array_equal(read_icgem(text)[0], expected)
    np.testing.assert_array_equal(read_icgem(text.replace("\n", "\r\n"))[0], expected)
    sigma = "\n".join(
        ln + "  1.000000000000D-12  2.000000000000D-12" if ln.startswith("gfc") else ln
        for ln in text.split("\n")
    )
    cs, header = read_icgem(sigma)
    np.testing.assert_array_equal(cs, expected)


def test_column_wise_path_leaves_other_layouts_to_the_general_parse(text):
    """A valid line laid out differently (order not right-aligned) is read right, not as 10."""
    lines = text.split("\n")
    target = next(i for i, ln in enumerate(lines) if ln.startswith("gfc    3    1"))
    lines[target] = lines[target].replace("gfc    3    1", "gfc    3   1 ", 1)
    moved = "\n".join(lines)
    np.testing.assert_array_equal(read_icgem(moved)[0], reference_parse(text))


@pytest.mark.parametrize(
    "old, new",
    [
        ("gfc    3    1", "gfc    3  1 1"),  # a blank inside a number: one column too many
        ("gfc    3    1", "gfc    3   -1"),
        ("gfc    3    1", "gfc    3    x"),
        ("D-", "X-"),  # exponent letter
        ("D-", "D*"),  # exponent sign
        (".", ","),
    ],
)
def test_column_wise_path_rejects_deviating_line(tmp_path, text, old, new):
    """A bad line of the same length falls to the general parse, which names it."""
    lines = text.split("\n")
    target = next(i for i, ln in enumerate(lines) if ln.startswith("gfc    3    1"))
    bad_line = lines[target].replace(old, new, 1)
    assert len(bad_line) == len(lines[target]) and bad_line != lines[target]
    lines[target] = bad_line
    path = tmp_path / "bad.gfc"
    path.write_text("\n".join(lines))
    with pytest.raises(ICGEMError, match=rf"bad.gfc, line {target + 1}\b"):
        read_icgem(path)


def test_portable_conversion_sends_exact_ties_to_float():
    """10**23 lies exactly halfway between two doubles: the double-double product cannot
    decide it and leaves it to float() (which rounds to even); near values are decided."""
    import gravsep.formats.decimal_conversion as decimal_conversion

    mant = np.array([1, 1, 3, 123456789012345], dtype=np.int64)
    k = np.array([23, 24, -30, -40], dtype=np.int64)
    out, slow = decimal_conversion._decimal_to_double_portable(mant, k)
    assert slow.tolist() == [True, False, False, False]
    assert out[1:].tolist() == [1e24, 3e-30, 123456789012345e-40]


@pytest.mark.parametrize("portable", [False, True])
def test_conversion_beyond_the_power_table(monkeypatch, portable):
    """Exponents past the tabulated powers of ten give what float() gives (0, inf)."""
    import gravsep.formats.decimal_conversion as decimal_conversion

    if portable:
        monkeypatch.setattr(decimal_conversion, "_X87", False)
    tokens = [b"1.5D-420", b"2.5D+001", b"1.0D+420", b"7.0D-300"]
    mant = np.array([15, 25, 10, 70], dtype=np.int64)
    k = np.array([-421, 0, 419, -301], dtype=np.int64)
    neg = np.array([False, True, False, True])
    out = decimal_conversion.decimal_to_double(mant, k, neg, lambda i: tokens[i])
    assert out.tolist() == [0.0, -25.0, np.inf, -7e-300]
