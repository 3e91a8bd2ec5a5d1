"""Bad input at workflow level: a clear error that names the file (and line), nothing partial.

Crafted archives for ``source: local`` (one letter-year slot each, so that one Snakemake run
with ``--keep-going`` exercises them all): damaged ICGEM files, missing epochs, a wrong maximum
degree, corrupt gzip, unsafe tar members, an empty archive; decompression bombs (sparse,
oversized and gzip-in-gzip members, padding), wrong data (another normalisation, a column
shift, time-variable keys, an absurd degree), non-ASCII digits in a name and a long line. The
archive folder's name is full of shell metacharacters (``$(touch PWNED)``, backticks, ``;``):
the valid control slot must still be read from it literally and no command may run. Each
slot's job log (``results/logs/store/<C>_<YEAR>.log``) must name the archive, the member and
the problem (and the line where there is one), its last line must state the cause and reach
the console, and no store, unpacked copy or temporary file (``.tmp-*``) may be left for it.
"""

import gzip
import re
import tarfile
from pathlib import Path

import faultlib as fl
import numpy as np
import pytest
from archive_helpers import regular, special, tar_bytes
from ftp_helpers import serving
from gravsep.formats.archive import archive_name, member_name, write_archive, year_epochs
from gravsep.formats.icgem import format_icgem

pytestmark = [pytest.mark.faults, pytest.mark.workflow]

NMAX = 4
YEARS = [1995, 1996, 1997, 1998, 1999, 2000, 2001]
#: A folder name that runs commands if it ever reaches a shell unquoted.
HOSTILE = "arch $(touch PWNED) `touch PWNED`; touch PWNED & echo |"
MARK = "PWNED"


def coefficients(nmax=NMAX, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(scale=1e-10, size=(2, nmax + 1, nmax + 1)) * np.tri(nmax + 1)


def good_text(nmax=NMAX):
    return format_icgem(coefficients(nmax), modelname="fault-injection")


def year_files(year, text=None):
    text = good_text() if text is None else text
    return [(e, text) for e in year_epochs(year)]


def members_of(letter, year, text=None, skip=()):
    text = good_text() if text is None else text
    out = []
    for i, e in enumerate(year_epochs(year)):
        if i not in skip:
            out.append(regular(f"{str(e)[:7]}/{member_name(letter, e)}", text.encode()))
    return out


def with_member(letter, year, index, text):
    """Archive files of a year where member ``index`` has ``text``."""
    files = year_files(year)
    files[index] = (files[index][0], text)
    return files


def cut_lines(text, n):
    return "".join(text.splitlines(keepends=True)[:-n])


def replace_line(text, n, m, new):
    """Text with the line of degree n, order m replaced by ``new``."""
    pat = re.compile(rf"^gfc\s+{n}\s+{m}\s.*$", re.MULTILINE)
    assert pat.search(text)
    return pat.sub(new, text, count=1)


# Each case: (name, letter, year, builder(path) -> expected fragments, log rule)
# The builder writes the archive at ``path`` and returns the fragments the error must contain.
EPOCH_K = 777  # which epoch carries the damage


def _epoch_name(letter, year, k=EPOCH_K):
    return member_name(letter, year_epochs(year)[k])


def truncated_icgem(path, letter, year):
    write_archive(path, letter, year, with_member(letter, year, EPOCH_K, cut_lines(good_text(), 3)))
    return [_epoch_name(letter, year), "missing", "truncated"]


def truncated_mid_line(path, letter, year):
    text = good_text()
    text = text[: len(text) - 20]  # the cut falls inside the last line
    write_archive(path, letter, year, with_member(letter, year, EPOCH_K, text))
    return [_epoch_name(letter, year), "line"]


def nan_coefficient(path, letter, year):
    text = replace_line(good_text(), 3, 1, "gfc    3    1 NaN  0.000000000000D+00")
    write_archive(path, letter, year, with_member(letter, year, EPOCH_K, text))
    lineno = 1 + text.splitlines().index("gfc    3    1 NaN  0.000000000000D+00")
    return [_epoch_name(letter, year), f"line {lineno}", "NaN"]


def duplicated_coefficient(path, letter, year):
    text = good_text()
    dup = re.search(r"^gfc\s+2\s+1\s.*$", text, re.MULTILINE).group(0)
    text = replace_line(text, 2, 2, dup)
    write_archive(path, letter, year, with_member(letter, year, EPOCH_K, text))
    return [_epoch_name(letter, year), "n=2, m=1", "appears again"]


def missing_epoch(path, letter, year):
    files = year_files(year)
    write_archive(path, letter, year, files[:EPOCH_K] + files[EPOCH_K + 1 :])
    return [str(path), "1 epoch(s) missing", _epoch_name(letter, year)]


def wrong_max_degree(path, letter, year):
    text = good_text(NMAX + 1)
    write_archive(path, letter, year, with_member(letter, year, EPOCH_K, text))
    return [_epoch_name(letter, year), f"max_degree is {NMAX + 1}", f"expected {NMAX}"]


def corrupt_gzip(path, letter, year):
    write_archive(path, letter, year, year_files(year))
    data = bytearray(path.read_bytes())
    for pos in range(len(data) // 3, len(data) // 3 + 64):
        data[pos] ^= 0xA5
    path.write_bytes(bytes(data))
    return [str(path), "corrupt or truncated archive"]


def truncated_gzip(path, letter, year):
    write_archive(path, letter, year, year_files(year))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    # the cut falls inside a member (its name given) or between members
    return [str(path), ("corrupt or truncated archive", "could not be read"), "ended"]


def corrupt_gzip_member(path, letter, year):
    members = members_of(letter, year)
    damaged = bytearray(gzip.compress(good_text().encode(), mtime=0))
    damaged[len(damaged) // 2] ^= 0xFF
    info, _ = members[EPOCH_K]
    members[EPOCH_K] = (info, bytes(damaged[:-6]))
    path.write_bytes(tar_bytes(members))
    return [_epoch_name(letter, year), "corrupt gzip"]


def replaced(letter, year, k, data, name=None):
    """The year's members with member ``k`` holding ``data`` (and, given, another name)."""
    members = members_of(letter, year)
    info, _ = members[k]
    members[k] = regular(name or info.name, data)
    return members


def with_text(edit):
    """Builder: member EPOCH_K's text edited by ``edit(text) -> (text, fragments)``."""

    def build(path, letter, year):
        text, fragments = edit(good_text())
        path.write_bytes(tar_bytes(replaced(letter, year, EPOCH_K, text.encode())))
        return [_epoch_name(letter, year), *fragments]

    return build


def tar_blocks(members):
    """A .tar.gz of ``(TarInfo, data, format)`` written block by block (formats mixed)."""
    raw = bytearray()
    for info, data, fmt in members:
        info.size = info.size if data is None else len(data)
        raw += info.tobuf(fmt)
        if data:
            raw += data + b"\0" * (-len(data) % 512)
    return gzip.compress(bytes(raw + b"\0" * 1024), mtime=0)


def sparse(kind):
    def build(path, letter, year):
        members = [(info, data, tarfile.PAX_FORMAT) for info, data in members_of(letter, year)]
        name = members[EPOCH_K][0].name
        if kind == "pax":
            info = tarfile.TarInfo(f"./GNUSparseFile.0/{name.rsplit('/', 1)[-1]}")
            info.pax_headers = {
                "GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": name,
                "GNU.sparse.realsize": str(3 << 30),
            }  # fmt: skip
            members[EPOCH_K] = (info, b"1\n0\n100\n".ljust(512, b"\0") + b"x" * 100,
                                tarfile.PAX_FORMAT)  # fmt: skip
        else:
            info = tarfile.TarInfo(name)
            info.type = tarfile.GNUTYPE_SPARSE
            members[EPOCH_K] = (info, b"y" * 100, tarfile.GNU_FORMAT)
        path.write_bytes(tar_blocks(members))
        return [str(path), _epoch_name(letter, year), "sparse"]

    return build


def oversized_member(path, letter, year):
    path.write_bytes(tar_bytes(replaced(letter, year, EPOCH_K, b"\0" * (8 << 20))))
    return [str(path), _epoch_name(letter, year), "more than a coefficient file"]


def gzip_in_member(path, letter, year):
    bomb = gzip.compress(good_text().encode() + b" " * (64 << 20), mtime=0)  # 64 MB from 64 kB
    path.write_bytes(tar_bytes(replaced(letter, year, EPOCH_K, bomb)))
    return [_epoch_name(letter, year), "decompresses to more than"]


def padded_with_blank_lines(path, letter, year):
    padded = (good_text() + "\n" * (2 << 20)).encode()
    path.write_bytes(tar_bytes(replaced(letter, year, EPOCH_K, padded)))
    return [str(path), _epoch_name(letter, year), "more than a coefficient file"]


def column_shift(text):
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("gfc    2    1"))
    lines[i] += " 15.0"
    lines[i + 1] = " ".join(lines[i + 1].split()[:-1])
    return "\n".join(lines) + "\n", [f"line {i + 1}", "expected 5 columns, got 6"]


def other_norm(text):
    text = text.replace("norm fully_normalized", "norm unnormalized")
    lineno = 1 + text.splitlines().index("norm unnormalized")
    return text, [f"line {lineno}", "norm is 'unnormalized'"]


def time_variable_key(text):
    lines = text.splitlines()
    i = next(k for k, ln in enumerate(lines) if ln.startswith("gfc    2    0"))
    lines[i] = lines[i].replace("gfc ", "gfct", 1)
    return "\n".join(lines) + "\n", [f"line {i + 1}", "time-variable ICGEM 2.0"]


def long_line(text):
    lines = text.splitlines()
    lines.insert(len(lines) - 1, "gfc " + "9" * 20000)
    return "\n".join(lines) + "\n", [f"line {len(lines) - 1}", "longer than any coefficient line"]


def absurd_degree(text):
    return text.replace(f"max_degree {NMAX}", "max_degree 100000"), ["max_degree is 100000"]


def huge_pax_header(path, letter, year):
    """A 2 MB archive whose member claims a 64 MB PAX comment (tarfile reads it whole)."""
    members = [(info, data, tarfile.PAX_FORMAT) for info, data in members_of(letter, year)]
    info, data, _ = members[EPOCH_K]
    info.pax_headers = {"comment": "z" * (64 << 20)}
    members[EPOCH_K] = (info, data, tarfile.PAX_FORMAT)
    path.write_bytes(tar_blocks(members))
    return [str(path), "extended header of", "refusing to read it"]


def unicode_digits(path, letter, year):
    t = year_epochs(year)[EPOCH_K].astype("datetime64[s]").item()
    name = f"{t:%Y-%m}/mtmshc_{letter}_{t:%Y%m%d}_\uff10\uff16.180"  # hour written ０６
    path.write_bytes(tar_bytes(replaced(letter, year, EPOCH_K, good_text().encode(), name)))
    return [str(path), "\uff10\uff16", "is not named"]


def not_gzip(path, letter, year):
    path.write_bytes(b"<html>404 Not Found</html>\n" * 20)
    return [str(path), "not a readable tar.gz"]


def unsafe(make_member, *fragments):
    def build(path, letter, year):
        members = members_of(letter, year)
        members.insert(5, make_member(letter, year))  # after some good members are written
        path.write_bytes(tar_bytes(members))
        return [str(path), "refusing to read it", *fragments]

    return build


def empty_archive(path, letter, year):
    path.write_bytes(tar_bytes([special(f"{year}-01", tarfile.DIRTYPE)]))
    return [str(path), "empty"]


def valid(path, letter, year):
    write_archive(path, letter, year, year_files(year))
    return []


ESCAPE = "escaped_by_fault_injection"
CASES = [
    # name, letter, year, builder, log rule
    ("truncated ICGEM file", "A", 1995, truncated_icgem, "store"),
    ("ICGEM file cut mid-line", "O", 1995, truncated_mid_line, "store"),
    ("NaN coefficient", "H", 1995, nan_coefficient, "store"),
    ("duplicated coefficient", "I", 1995, duplicated_coefficient, "store"),
    ("missing epoch", "S", 1995, missing_epoch, "store"),
    ("wrong maximum degree", "A", 1996, wrong_max_degree, "store"),
    ("corrupt gzip archive", "O", 1996, corrupt_gzip, "store"),
    ("truncated gzip archive", "H", 1996, truncated_gzip, "store"),
    ("corrupt gzip member", "I", 1996, corrupt_gzip_member, "store"),
    ("not a gzip archive", "S", 1996, not_gzip, "store"),
    ("tar member with ../", "A", 1997,
     unsafe(lambda L, Y: regular(f"{Y}-01/../../../{ESCAPE}.180", b"x"), "'..'"), "store"),
    ("tar member with absolute path", "O", 1997,
     unsafe(lambda L, Y: regular(f"/tmp/{ESCAPE}.180", b"x"), "absolute"), "store"),
    ("tar symlink member", "H", 1997,
     unsafe(lambda L, Y: special(f"{Y}-02/{ESCAPE}", tarfile.SYMTYPE, "/etc/passwd"), "link"),
     "store"),
    ("tar hard link member", "I", 1997,
     unsafe(lambda L, Y: special(f"{Y}-02/{ESCAPE}", tarfile.LNKTYPE, "/etc/passwd"), "link"),
     "store"),
    ("tar character device member", "S", 1997,
     unsafe(lambda L, Y: special(f"{Y}-02/{ESCAPE}", tarfile.CHRTYPE), "device"), "store"),
    ("tar block device member", "A", 1998,
     unsafe(lambda L, Y: special(f"{Y}-02/{ESCAPE}", tarfile.BLKTYPE), "device"), "store"),
    ("tar FIFO member", "O", 1998,
     unsafe(lambda L, Y: special(f"{Y}-02/{ESCAPE}", tarfile.FIFOTYPE), "FIFO"), "store"),
    ("empty archive", "H", 1998, empty_archive, "store"),
    ("GNU sparse member (bomb)", "I", 1998, sparse("gnu"), "store"),
    ("PAX sparse member claiming 3 GiB (bomb)", "S", 1998, sparse("pax"), "store"),
    ("member larger than its degree allows (bomb)", "A", 1999, oversized_member, "store"),
    ("gzip inside a member (bomb)", "O", 1999, gzip_in_member, "store"),
    ("valid file padded with blank lines (bomb)", "H", 1999, padded_with_blank_lines, "store"),
    ("column shift between two lines", "I", 1999, with_text(column_shift), "store"),
    ("another normalisation in the header", "S", 1999, with_text(other_norm), "store"),
    ("time-variable ICGEM 2.0 key", "A", 2000, with_text(time_variable_key), "store"),
    ("a 20 kB line", "O", 2000, with_text(long_line), "store"),
    ("header claiming degree 100000", "H", 2000, with_text(absurd_degree), "store"),
    ("full-width digits in a member name", "I", 2000, unicode_digits, "store"),
    ("64 MB PAX header (bomb)", "S", 2000, huge_pax_header, "store"),
]  # fmt: skip
CONTROL = ("A", 2001)


def local_config(archive_dir, **changes):
    return fl.tiny_config(**{
        "source": "local", "data.years": YEARS, "data.nmax": NMAX,
        "data.archive_dir": str(archive_dir), "defaults.dataset.nmax_flt": NMAX, **changes,
    })  # fmt: skip


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    """One Snakemake run over every crafted slot (``--keep-going``); folders, result, expected."""
    root = tmp_path_factory.mktemp("bad-inputs")
    work = root / "work"
    archives = root / HOSTILE
    work.mkdir()
    archives.mkdir()
    expected = {}
    for name, letter, year, build, rule in CASES:
        fragments = build(archives / archive_name(year, letter), letter, year)
        fragments = [*fragments, archive_name(year, letter)]  # the archive is always named
        expected[name] = (letter, year, rule, fragments)
    valid(archives / archive_name(CONTROL[1], CONTROL[0]), *CONTROL)
    cfg = fl.write_config(root, "local.yaml", local_config(archives))
    targets = [f"results/ingest/store/{L}_{Y}.h5" for _, L, Y, _, _ in CASES]
    targets.append("results/ingest/store/{}_{}.h5".format(*CONTROL))
    result = fl.run(work, *targets, "--keep-going", configfile=cfg)
    return {"root": root, "work": work, "archives": archives, "result": result,
            "expected": expected}  # fmt: skip


def no_partial_output(root, work, letter, year):
    """What a failed letter-year slot may not leave behind; a list of problems."""
    problems = []
    res = work / "results"
    if (res / f"ingest/store/{letter}_{year}.h5").exists():
        problems.append("the store exists")
    stray = [
        p
        for p in fl.partial_files(root)
        if f"{letter}_{year}" in p or p.rsplit("/", 1)[-1].startswith(".tmp-")
    ]
    if stray:
        problems.append(f"half-written files: {stray}")
    if (res / "ingest" / "unpacked").exists():
        problems.append("an unpacked copy of an archive exists")
    return problems


def test_control_slot_and_no_command_ran(bad_run):
    """The valid archive in the hostile folder is read literally; no shell ever saw the name."""
    with fl.fault("shell metacharacters in data.archive_dir"):
        letter, year = CONTROL
        result = bad_run["result"]
        assert result.returncode != 0  # the other slots fail
        store = bad_run["work"] / f"results/ingest/store/{letter}_{year}.h5"
        assert store.exists(), result.stderr[-4000:]
        assert not fl.files_named(bad_run["root"], MARK), "a command ran"
        assert not (fl.REPO / MARK).exists(), "a command ran"
        assert not list(bad_run["root"].rglob(f"{ESCAPE}*")), "a member escaped the folder"
        assert not list(Path("/tmp").glob(f"{ESCAPE}*")), "a member escaped to /tmp"


@pytest.mark.parametrize("name", [c[0] for c in CASES])
def test_bad_input_is_refused_clearly(bad_run, name):
    letter, year, rule, fragments = bad_run["expected"][name]
    work = bad_run["work"]
    with fl.fault(f"bad input: {name}"):
        log = work / f"results/logs/{rule}/{letter}_{year}.log"
        assert log.exists(), f"no log {log}; Snakemake said:\n{bad_run['result'].stderr[-3000:]}"
        text = log.read_text(errors="replace")
        for fragment in fragments:  # a tuple: one of these
            options = fragment if isinstance(fragment, tuple) else (fragment,)
            assert any(o in text for o in options), (
                f"{fragment!r} not in the {rule} log:\n{text[-2000:]}"
            )
        # Snakemake's own message points at the failed rule and its log, and the log's last
        # line (the cause, short) reaches the console through show-failed-logs
        console = bad_run["result"].stdout + bad_run["result"].stderr
        assert f"results/logs/{rule}/{letter}_{year}.log" in console
        last = text.rstrip().splitlines()[-1]
        assert "failed: " in last and len(last) < 600, last
        assert last.split("failed: ", 1)[1] in console, "the cause did not reach the console"
        assert "9" * 200 not in text, "a long line was quoted whole"
        problems = no_partial_output(bad_run["root"], work, letter, year)
        assert not problems, problems
        assert not list(bad_run["root"].rglob(f"{ESCAPE}*"))


# --------------------------------------------------------------------------- FTP source


def _ftp_server(root):
    pytest.importorskip("pyftpdlib")
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import ThreadedFTPServer

    auth = DummyAuthorizer()
    auth.add_anonymous(str(root))
    handler = type("Handler", (FTPHandler,), {"authorizer": auth, "timeout": 30})
    srv = ThreadedFTPServer(("127.0.0.1", 0), handler)
    srv.poll_timeout = 0.05
    return srv


def test_shell_metacharacters_in_ftp_directory(tmp_path):
    """``ftp.directory`` and ``data.archive_dir`` with ``$(...)``: used literally, nothing run."""
    with fl.fault("shell metacharacters in ftp.directory"):
        ftproot = tmp_path / "ftproot"
        remote = "$(touch PWNED)/`touch PWNED`;touch PWNED"
        folder = ftproot / remote
        folder.mkdir(parents=True)
        valid(folder / archive_name(1995, "A"), "A", 1995)
        with serving(_ftp_server(ftproot)) as port:
            work = tmp_path / "work"
            work.mkdir()
            cfg = local_config(tmp_path / "dl $(touch PWNED)", source="ftp")
            cfg["ftp"] = {"host": "127.0.0.1", "port": port, "directory": f"/{remote}/",
                          "retries": 1, "timeout": 20}  # fmt: skip
            path = fl.write_config(tmp_path, "ftp.yaml", cfg)
            result = fl.run(work, "results/ingest/store/A_1995.h5", configfile=path)
        assert result.returncode == 0, result.stderr[-4000:]
        assert (work / "results/ingest/store/A_1995.h5").exists()
        assert (tmp_path / "dl $(touch PWNED)" / archive_name(1995, "A")).exists()
        assert not fl.files_named(tmp_path, MARK), "a command ran"
        assert not (fl.REPO / MARK).exists()
