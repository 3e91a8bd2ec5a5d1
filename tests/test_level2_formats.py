"""Level-2 readers and writers: GSM RL06, ICGEM gfc monthly fields, TN-13 and TN-14.

Files are written here in each format's published layout (GRACE-FO Level-2 handbook for GSM,
ICGEM for gfc, the NASA technical notes shipped by pyshbundle), independently of the writers
under test; gravity-toolkit (a test dependency) reads the same files as an independent check.
"""

import gzip
import warnings
from pathlib import Path

import numpy as np
import pytest
from gravsep.constants import GM, R_EARTH
from gravsep.formats.gsm import format_gsm, gsm_name, name_span, read_gsm, write_gsm
from gravsep.formats.icgem import ICGEMError
from gravsep.formats.technotes import (
    decimal_year,
    format_tn13,
    format_tn14,
    mjd_to_datetime,
    read_tn13,
    read_tn14,
)
from gravsep.formats.textfile import FormatError
from gravsep.level2.inputs import check_time_step, icgem_span, read_field, read_inputs, rescale

GRACE_GM, GRACE_R = 3.986004415e14, 6378136.3
NMAX = 8


def _coefficients(nmax=NMAX, seed=0):
    """Coefficients of 13 significant digits (as the files hold them), degrees 0 and 1 zero."""
    rng = np.random.default_rng(seed)
    cs = rng.normal(scale=1e-10, size=(2, nmax + 1, nmax + 1)) * np.tri(nmax + 1)[None]
    cs[1, :, 0] = 0.0
    cs[0, 2, 0] = -4.841694573200e-04
    cs[:, :2] = 0.0
    return np.vectorize(lambda x: float(f"{x:.12e}"))(cs)


# An RL06 header as in the handbook (CSR-like), with the keys the reader needs and some it
# does not; the records are formatted here, not by gravsep's writer.
HEADER = """header:
  dimensions:
    degree: {nmax}
    order: {nmax}
  global_attributes:
    acknowledgement: GRACE is a joint mission of NASA (USA) and DLR (Germany).
    title: GRACE Geopotential GSM Coefficients CSR RL06
    institution: UT-AUSTIN/CSR
    product_version: '6.0'
    time_coverage_start: '2003-01-01T00:00:00.00'
    time_coverage_end: '2003-01-31T23:59:59.99'
  non-standard_attributes:
    format_id:
      short_name: GRCOF2
      long_name: Earth Gravity Spherical Harmonic Model Format 2
    earth_gravity_param:
      long_name: Gravitational Constant times Mass of Earth
      units: m3/s2
      value: 3.9860044150E+14
    mean_equator_radius:
      long_name: Mean equator radius
      units: meters
      value: 6.3781363000E+06
    normalization: {norm}
    permanent_tide_flag: inclusive
    product_id: GSM-2
# End of YAML header
"""


def gsm_text(cs, nmax=NMAX, norm="fully normalized", span=("20030101.0000", "20030201.0000"),
             record="GRCOF2"):  # fmt: skip
    lines = [HEADER.format(nmax=nmax, norm=norm)]
    for n in range(2, nmax + 1):
        for m in range(n + 1):
            lines.append(
                f"{record} {n:5d}{m:5d} {cs[0, n, m]:19.12E} {cs[1, n, m]:19.12E} "
                f"{1e-12:10.4E} {2e-12:10.4E} {span[0]} {span[1]} nnnn\n"
            )
    return "".join(lines)


NAME = "GSM-2_2003001-2003031_GRAC_UTCSR_BA01_0600"


@pytest.fixture
def gsm_file(tmp_path):
    cs = _coefficients()
    path = tmp_path / f"{NAME}.gz"
    path.write_bytes(gzip.compress(gsm_text(cs).encode()))
    return path, cs


def test_gsm_reader_on_the_published_layout_gzipped(gsm_file):
    path, cs = gsm_file
    got, sigma, info = read_gsm(path)
    np.testing.assert_array_equal(got, cs)  # 13 significant digits written, read exactly
    assert sigma[0, 5, 3] == 1e-12 and sigma[1, 5, 3] == 2e-12
    assert info["gm"] == GRACE_GM and info["radius"] == GRACE_R and info["nmax"] == NMAX
    assert str(info["start"]) == "2003-01-01T00:00:00" and str(info["end"]) == "2003-02-01T00:00:00"
    assert info["norm"] == "fully normalized" and info["tide"] == "inclusive"
    assert name_span(path.name) == (info["start"], info["end"])


def test_gravity_toolkit_reads_the_same_gsm_coefficients(gsm_file):
    """Independent check: gravity-toolkit's GSM reader (span from the name, as whole days)."""
    from gravity_toolkit.read_GRACE_harmonics import read_GRACE_harmonics
    from gravity_toolkit.time import convert_calendar_dates

    path, cs = gsm_file
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = read_GRACE_harmonics(str(path), NMAX)
    ours, _, info = read_gsm(path)
    np.testing.assert_array_equal(gt["clm"][2:], ours[0, 2:])
    np.testing.assert_array_equal(gt["slm"][2:], ours[1, 2:])
    mjd = convert_calendar_dates(2003, 1, 1, epoch=(1858, 11, 17, 0, 0, 0))
    assert gt["start"] == 2400000.5 + mjd  # the first day
    assert gt["end"] == gt["start"] + 30  # the last day (31 Jan), not the end instant 1 Feb
    # it reads neither the constants nor the normalisation from the header
    assert "earth_gravity_param" in str(gt.get("header", gt))


def test_rescaling_to_the_model_constants_is_exact():
    cs = _coefficients(30, 2)
    out = rescale(cs, GRACE_GM, GRACE_R)
    n = np.arange(31)
    factor = (GRACE_GM / GM) * (GRACE_R / R_EARTH) ** n
    np.testing.assert_array_equal(out, cs * factor[:, None])
    # the same potential: zonal sum at r = 7000 km on the pole, both constant sets
    r = 7.0e6
    v_file = GRACE_GM / r * np.sum((GRACE_R / r) ** n * np.sqrt(2 * n + 1) * cs[0, :, 0])
    v_model = GM / r * np.sum((R_EARTH / r) ** n * np.sqrt(2 * n + 1) * out[0, :, 0])
    assert abs(v_model - v_file) <= 1e-15 * abs(v_file)
    np.testing.assert_array_equal(rescale(cs, GM, R_EARTH), cs)  # same constants: unchanged
    back = rescale(out, GM, R_EARTH, GRACE_GM, GRACE_R)
    np.testing.assert_allclose(back, cs, rtol=1e-14, atol=0)  # a few ulp of (R1/R2)^30


def test_read_field_rescales_truncates_and_keeps_the_span(gsm_file):
    path, cs = gsm_file
    month = read_field(path, "gsm", 5)
    np.testing.assert_array_equal(month.cs, rescale(cs[:, :6, :6], GRACE_GM, GRACE_R))
    assert month.label == "2003-01" and month.info["gm"] == GRACE_GM
    with pytest.raises(FormatError, match="degree 8 is below the processing degree 9"):
        read_field(path, "gsm", 9)


def _edit_record(text, key, index, value):
    """The record line starting with ``key`` with its word ``index`` replaced by ``value``."""
    lines = text.split("\n")
    i = next(k for k, ln in enumerate(lines) if ln.startswith(key))
    words = lines[i].split()
    words[index] = value
    lines[i] = " ".join(words)
    return "\n".join(lines)


def _line(text, marker):
    """1-based number of the first line of ``text`` holding ``marker``."""
    return next(i + 1 for i, ln in enumerate(text.split("\n")) if marker in ln)


@pytest.mark.parametrize(
    "edit, marker, fragments",
    [
        (lambda t: t.replace("fully normalized", "unnormalized"), "unnormalized",
         ["normalization is 'unnormalized'"]),
        (lambda t: t.replace("    normalization: fully normalized\n", ""), None,
         ["no normalization"]),
        (lambda t: t.replace("# End of YAML header", "# end"), None, ["End of YAML header"]),
        (lambda t: t.rsplit("GRCOF2", 3)[0], None, ["missing for degree 8", "l=8, m=6"]),
        (lambda t: "20030202.0000".join(t.rsplit("20030201.0000", 1)), "20030202.0000",
         ["epoch range", "differs from line 28's"]),
        (lambda t: t.replace("GRCOF2     3    1", "GRDOTA     3    1"), "GRDOTA", ["drift"]),
        (lambda t: t.replace("GRCOF2     4    2", "GRCOF2     4    2 x"), " x ", ["fields"]),
        (lambda t: _edit_record(t, "GRCOF2     2    1", 3, "1.0Q"), "1.0Q", ["not a number"]),
        (lambda t: t.replace("GRCOF2     5    5", "GRCOF2     5    7"), "    5    7",
         ["l=5, m=7"]),
        (lambda t: t.replace("units: m3/s2", "units: furlongs"), "furlongs", ["unknown units"]),
        (lambda t: _edit_record(t, "GRCOF2     6    0", 3, "nan"), "nan", ["NaN"]),
    ],
)  # fmt: skip
def test_gsm_refusals_name_file_line_and_problem(tmp_path, edit, marker, fragments):
    text = edit(gsm_text(_coefficients()))
    path = tmp_path / f"{NAME}.txt"
    path.write_text(text)
    with pytest.raises(FormatError) as err:
        read_gsm(path)
    msg = str(err.value)
    assert str(path) in msg
    if marker is not None:
        assert f"line {_line(text, marker)}:" in msg, msg
    for fragment in fragments:
        assert fragment in msg, msg


def test_gsm_name_and_records_must_agree(tmp_path):
    path = tmp_path / "GSM-2_2003032-2003059_GRAC_UTCSR_BA01_0600.txt"  # February
    path.write_text(gsm_text(_coefficients()))
    with pytest.raises(FormatError, match="differs from the name's"):
        read_gsm(path)


def test_gsm_header_that_yaml_cannot_parse_is_scanned(tmp_path):
    """Real headers have held lines YAML refuses (e.g. unquoted colons); the keys are scanned."""
    text = gsm_text(_coefficients()).replace(
        "    institution: UT-AUSTIN/CSR", "    institution: UT-AUSTIN: CSR: yes"
    )
    path = tmp_path / f"{NAME}.txt"
    path.write_text(text)
    _, _, info = read_gsm(path)
    assert info["gm"] == GRACE_GM and info["radius"] == GRACE_R


def test_gsm_writer_round_trip(tmp_path):
    cs = _coefficients(12, 5)
    start, end = np.datetime64("2002-04-04", "s"), np.datetime64("2002-05-01", "s")
    name = gsm_name(start, end, center="JPLEM")
    assert name == "GSM-2_2002094-2002120_GRAC_JPLEM_BA01_0600.gz"
    path = write_gsm(tmp_path / name, cs, None, start, end, GRACE_GM, GRACE_R, title="t")
    got, _, info = read_gsm(path)
    np.testing.assert_allclose(got, cs, rtol=1e-12, atol=0)
    assert (info["start"], info["end"]) == (start, end)
    assert gzip.decompress(path.read_bytes()).decode().startswith("header:\n")
    assert format_gsm(cs, None, start, end, GM, R_EARTH, title="t").count("GRCOF2 ") == 88


# ---------------------------------------------------------------- ICGEM monthly fields

ITSG_HEAD = """This is an ITSG-Grace2018-like monthly solution written for a test.
begin_of_head ====================================================================
modelname              ITSG-Grace2018_n{nmax}_2003-01
product_type           gravity_field
earth_gravity_constant 3.986004415000e+14
radius                 6.378136300000e+06
max_degree             {nmax}
norm                   {norm}
tide_system            zero_tide
errors                 formal

key     L    M         C                      S                    sigma C         sigma S
end_of_head ======================================================================
"""


def gfc_text(cs, nmax=NMAX, norm="fully_normalized", first=0):
    lines = [ITSG_HEAD.format(nmax=nmax, norm=norm)]
    for n in range(first, nmax + 1):
        for m in range(n + 1):
            lines.append(f"gfc {n:4d} {m:4d} {cs[0, n, m]:+.12e} {cs[1, n, m]:+.12e} "
                         f"{3e-12:.4e} {3e-12:.4e}\n")  # fmt: skip
    return "".join(lines)


@pytest.mark.parametrize("first", [0, 2])
def test_icgem_monthly_gzipped_with_sigmas(tmp_path, first):
    cs = _coefficients(seed=3)
    cs[0, 0, 0] = 1.0 if first == 0 else 0.0
    path = tmp_path / f"ITSG-Grace2018_n{NMAX}_2003-01.gfc.gz"
    path.write_bytes(gzip.compress(gfc_text(cs, first=first).encode()))
    month = read_field(path, "icgem", NMAX)
    np.testing.assert_array_equal(month.cs, rescale(cs, GRACE_GM, GRACE_R))
    assert (str(month.start), str(month.end)) == ("2003-01-01T00:00:00", "2003-02-01T00:00:00")
    assert month.info["gm"] == GRACE_GM and month.info["radius"] == GRACE_R


def test_icgem_refusals(tmp_path):
    cs = _coefficients()
    bad = tmp_path / f"ITSG-Grace2018_n{NMAX}_2003-02.gfc"
    bad.write_text(gfc_text(cs, norm="unnormalized"))
    with pytest.raises(ICGEMError, match="line 8: header norm is 'unnormalized'"):
        read_field(bad, "icgem", NMAX)
    nospan = tmp_path / "solution.gfc"
    nospan.write_text(gfc_text(cs))
    with pytest.raises(FormatError, match="no data span in the name"):
        read_field(nospan, "icgem", NMAX)
    truncated = tmp_path / f"ITSG-Grace2018_n{NMAX}_2003-03.gfc"
    truncated.write_text(gfc_text(cs, first=3))
    with pytest.raises(ICGEMError, match="first n=2, m=0"):
        read_field(truncated, "icgem", NMAX)
    assert icgem_span("GSM-2_2003032-2003059_GRAC_COSTG_BF01_0100.gfc")[0] == np.datetime64(
        "2003-02-01", "s"
    )


def test_inputs_overlap_and_time_step_refused(tmp_path, gsm_file):
    path, cs = gsm_file
    other = tmp_path / "GSM-2_2003015-2003045_GRAC_UTCSR_BA01_0600.txt"
    other.write_text(gsm_text(cs, span=("20030115.0000", "20030215.0000")))
    with pytest.raises(ValueError, match="overlaps"):
        read_inputs([path, other], "gsm", NMAX)
    months = read_inputs([other], "gsm", NMAX)
    check_time_step(months, "month")
    with pytest.raises(ValueError, match="does not fit the time step 168"):
        check_time_step(months, 168)


# ---------------------------------------------------------------- technical notes


def _pyshbundle_data():
    pyshbundle = pytest.importorskip("pyshbundle")
    return Path(pyshbundle.__file__).parent / "data"


@pytest.mark.parametrize("centre", ["CSR", "JPL", "ITSG"])
def test_real_tn14_files_against_gravity_toolkit(centre):
    from gravity_toolkit.SLR import C20, C30

    (path,) = (_pyshbundle_data() / f"{centre}_TN_files").glob("TN-14*")
    tn = read_tn14(path)
    c20, c30 = C20(path), C30(path)
    np.testing.assert_array_equal(tn["c20"], c20["data"])
    np.testing.assert_array_equal(tn["c20_sigma"], c20["error"])
    given = np.isfinite(tn["c30"])
    np.testing.assert_array_equal(tn["c30"][given], c30["data"])
    assert tn["gm"] == GRACE_GM and tn["radius"] == GRACE_R
    assert str(tn["start"][0]) == "2002-04-04T00:00:00"
    assert str(tn["end"][0]) == "2002-05-01T00:00:00"
    assert np.all(tn["end"] > tn["start"])
    np.testing.assert_allclose(decimal_year(tn["start"][:3]), [2002.2548, 2002.3315, 2002.5808],
                               atol=5e-5)  # fmt: skip


@pytest.mark.parametrize("centre", ["CSR", "JPL", "ITSG"])
def test_real_tn13_files_against_gravity_toolkit(centre):
    import gravity_toolkit

    (path,) = (_pyshbundle_data() / f"{centre}_TN_files").glob("TN-13*")
    tn = read_tn13(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt = gravity_toolkit.geocenter().from_tellus(path, JPL=True)
    for ours, theirs in (("c10", gt.C10), ("c11", gt.C11), ("s11", gt.S11),
                         ("c10_sigma", gt.eC10), ("s11_sigma", gt.eS11)):  # fmt: skip
        np.testing.assert_array_equal(tn[ours], theirs)
    assert tn["love_k1"] == 0.021  # "Degree 1 Love number (k1) = 0.021" in the header
    assert len(tn["start"]) == len(gt.month)


def test_tn_refusals_name_file_and_line(tmp_path):
    data = _pyshbundle_data()
    (tn14,) = (data / "CSR_TN_files").glob("TN-14*")
    lines = tn14.read_text().split("\n")
    shifted = lines.copy()
    words = shifted[40].split()
    words[3] = f"{float(words[3]) + 1:.4f}"  # C20 minus the mean no longer fits C20
    shifted[40] = " ".join(words)
    bad = tmp_path / "TN-14_bad.txt"
    bad.write_text("\n".join(shifted))
    with pytest.raises(FormatError, match=r"line 41: C20 .* difference column"):
        read_tn14(bad)
    short = lines.copy()
    short[45] = " ".join(short[45].split()[:9])
    bad.write_text("\n".join(short))
    with pytest.raises(FormatError, match="line 46: expected 10 columns"):
        read_tn14(bad)
    (tn13,) = (data / "CSR_TN_files").glob("TN-13*")
    lines = tn13.read_text().split("\n")
    del lines[120]  # the (1,1) record of a month
    bad13 = tmp_path / "TN-13_bad.txt"
    bad13.write_text("\n".join(lines))
    with pytest.raises(FormatError, match="lacks its"):
        read_tn13(bad13)


def test_tn_writers_round_trip(tmp_path):
    start = np.array(["1999-01-01", "1999-02-01"], dtype="datetime64[s]")
    end = np.array(["1999-02-01", "1999-03-01"], dtype="datetime64[s]")
    c20 = np.array([-4.8416937e-4, -4.8416951e-4])
    c30 = np.array([9.5716e-07, np.nan])
    text = format_tn14(start, end, c20, c30, [1.6e-11] * 2, [3e-11] * 2, -4.841694573200e-04,
                       9.571647583412e-07, GRACE_GM, GRACE_R)  # fmt: skip
    (tmp_path / "TN-14.txt").write_text(text)
    tn = read_tn14(tmp_path / "TN-14.txt")
    np.testing.assert_array_equal(tn["start"], start)
    np.testing.assert_allclose(tn["c20"], c20, rtol=1e-13)
    assert np.isnan(tn["c30"][1]) and tn["gm"] == GRACE_GM and tn["radius"] == GRACE_R
    text = format_tn13(start, end, [1e-10, 2e-10], [3e-10, 4e-10], [5e-10, 6e-10], love_k1=0.021)
    (tmp_path / "TN-13.txt").write_text(text)
    tn = read_tn13(tmp_path / "TN-13.txt")
    np.testing.assert_allclose(tn["s11"], [5e-10, 6e-10], rtol=1e-9)
    assert tn["love_k1"] == 0.021 and list(tn["end"]) == list(end)
    assert str(mjd_to_datetime(51179.0)) == "1999-01-01T00:00:00"
