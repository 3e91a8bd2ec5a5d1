"""Hostile-input benchmark: peak memory of the ingest (archive -> store) on bombs vs a clean year.

The store step streams the members of a letter-year archive into its store
(:func:`gravsep.ingest.stores.store_from_archive`); every size is bounded by what a file of the
degree can hold. Measured here: the peak resident memory of that step for a clean degree-180
letter-year (1460 members) and for the same year with its last member replaced by a bomb:

- ``sparse_gnu``, ``sparse_pax``: a sparse member claiming 3 GiB (GNU and PAX 1.0 formats);
- ``zeros``: a member of 1 GiB of zeros (about 1 MB in the archive);
- ``inner_gzip``: a member that is itself gzip of 1 GiB of text (about 1 MB);
- ``padded``: a valid file followed by 200 MB of blank lines;
- ``huge_degree``: a file whose header claims degree 100000;
- ``pax_header``: a member with a 400 MB PAX comment (tarfile reads extended headers whole).

The bomb comes last, after the whole year has been parsed, which is the worst case for the
peak. Each case runs in its own subprocess (``resource.getrusage`` of that process, freed
memory retained as in the workflow scripts; the peak is the process's ``VmHWM``, which, unlike
``ru_maxrss``, does not count the parent's pages held between fork and exec); each bomb must be
refused. The archives share the
clean part: it is one gzip stream written once, and each case appends its last member as a
second gzip stream (a multi-member gzip file, which tarfile reads as one).

Usage: ``.venv/bin/python benchmarks/bench_bombs.py [--quick] [--workdir DIR]``.
--quick: degree 20 and 10 MB bombs (a smoke test; figures not meaningful).
Last line: ``peak_ratio=<max bomb peak / clean peak>x``.
"""

import argparse
import gzip
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
from gravsep.formats.archive import member_name, year_epochs  # noqa: E402
from gravsep.formats.icgem import format_icgem  # noqa: E402

YEAR, LETTER = 1995, "A"

CHILD = """
import json, resource, sys, time
from gravsep.malloc import retain_freed_memory
retain_freed_memory()
from gravsep.ingest.stores import store_from_archive
archive, out, nmax = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0 = time.perf_counter()
try:
    n = store_from_archive(archive, out, "A", 1995, nmax)
    outcome = f"stored {n} files"
except Exception as err:
    outcome = f"refused: {type(err).__name__}: {str(err)[:160]}"
# VmHWM: the peak of this program's own memory map. ru_maxrss would also count what the
# process held between fork and exec, i.e. the parent's pages.
with open("/proc/self/status") as fh:
    hwm = [ln for ln in fh if ln.startswith("VmHWM:")]
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
peak = (int(hwm[0].split()[1]) if hwm else rss) / 1024.0
print(json.dumps({"peak_mib": peak, "seconds": time.perf_counter() - t0, "outcome": outcome}))
"""


def coefficients(nmax, k):
    rng = np.random.default_rng(k)
    n = np.arange(nmax + 1)[:, None]
    return rng.normal(size=(2, nmax + 1, nmax + 1)) * 1e-10 / (n + 1.0) * np.tri(nmax + 1)


def tar_member(info, data):
    """One member's tar blocks (header and padded data), no end-of-archive marker."""
    buf = io.BytesIO()
    info.size = len(data)
    buf.write(info.tobuf(tarfile.PAX_FORMAT))
    buf.write(data)
    buf.write(b"\0" * (-len(data) % 512))
    return buf.getvalue()


def member_info(epoch):
    return tarfile.TarInfo(f"{str(epoch)[:7]}/{member_name(LETTER, epoch)}")


def write_clean_part(path, nmax):
    """Every epoch but the last, as one gzip stream of tar blocks; returns the last epoch."""
    epochs = year_epochs(YEAR)
    with gzip.open(path, "wb", compresslevel=1) as gz:
        for k, t in enumerate(epochs[:-1]):
            text = format_icgem(coefficients(nmax, k % 16), modelname="bench")
            gz.write(tar_member(member_info(t), text.encode()))
    return epochs[-1]


def sparse_blocks(epoch, kind):
    name = f"{str(epoch)[:7]}/{member_name(LETTER, epoch)}"
    if kind == "pax":
        info = tarfile.TarInfo(f"./GNUSparseFile.0/{member_name(LETTER, epoch)}")
        info.pax_headers = {
            "GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": name,
            "GNU.sparse.realsize": str(3 << 30),
        }  # fmt: skip
        return tar_member(info, b"1\n0\n100\n".ljust(512, b"\0") + b"x" * 100)
    info = tarfile.TarInfo(name)
    info.type = tarfile.GNUTYPE_SPARSE
    info.size = 100
    return info.tobuf(tarfile.GNU_FORMAT) + b"y" * 100 + b"\0" * 412


def write_last(path, epoch, case, nmax, bomb_bytes):
    """The last member (clean or a bomb) and the end-of-archive blocks, as one gzip stream."""
    good = format_icgem(coefficients(nmax, 99), modelname="bench").encode()
    with gzip.open(path, "wb", compresslevel=6) as gz:
        if case in ("sparse_gnu", "sparse_pax"):
            gz.write(sparse_blocks(epoch, case.split("_")[1]))
        elif case == "pax_header":
            info = member_info(epoch)
            info.pax_headers = {"comment": "z" * (min(bomb_bytes, 400 << 20))}
            gz.write(tar_member(info, good))
        elif case in ("zeros", "padded"):  # streamed: header, then the data block by block
            block = b"\0" * (1 << 20) if case == "zeros" else b"\n" * (1 << 20)
            head = b"" if case == "zeros" else good
            size = min(bomb_bytes, 200 << 20) if case == "padded" else bomb_bytes
            info = member_info(epoch)
            info.size = len(head) + size
            gz.write(info.tobuf(tarfile.PAX_FORMAT) + head)
            for _ in range(size // len(block)):
                gz.write(block)
            gz.write(b"\0" * (-info.size % 512))
        else:
            if case == "clean":
                data = good
            elif case == "inner_gzip":
                inner = io.BytesIO()
                with gzip.GzipFile(fileobj=inner, mode="wb", compresslevel=9, mtime=0) as g:
                    g.write(good)
                    line = b" " * 1023 + b"\n"
                    for _ in range(bomb_bytes // len(line)):
                        g.write(line)
                data = inner.getvalue()
            elif case == "huge_degree":
                data = good.replace(f"max_degree {nmax}".encode(), b"max_degree 100000")
            gz.write(tar_member(member_info(epoch), data))
        gz.write(b"\0" * 1024)


def run_case(workdir, clean_part, case, last, nmax, bomb_bytes):
    tail = workdir / f"{case}.tail.gz"
    write_last(tail, last, case, nmax, bomb_bytes)
    archive = workdir / f"{case}" / f"mtm_{YEAR}_{LETTER}.tar.gz"
    archive.parent.mkdir(exist_ok=True)
    with open(archive, "wb") as out:
        for part in (clean_part, tail):
            with open(part, "rb") as fh:
                while chunk := fh.read(1 << 24):
                    out.write(chunk)
    tail.unlink()
    size = archive.stat().st_size
    env_path = str(REPO / "workflow")
    res = subprocess.run(
        [sys.executable, "-c", CHILD, str(archive), str(workdir / f"{case}.h5"), str(nmax)],
        capture_output=True, text=True, check=True,
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    archive.unlink()
    result = json.loads(res.stdout.strip().splitlines()[-1])
    result["archive_mb"] = size / 1e6
    return result


CASES = ("clean", "sparse_gnu", "sparse_pax", "zeros", "inner_gzip", "padded", "huge_degree",
         "pax_header")  # fmt: skip


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--workdir")
    args = p.parse_args(argv)
    nmax = 20 if args.quick else 180
    bomb_bytes = (10 if args.quick else 1024) << 20
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        workdir = Path(tmp)
        t0 = time.perf_counter()
        clean_part = workdir / "clean.part.gz"
        last = write_clean_part(clean_part, nmax)
        mb = clean_part.stat().st_size / 1e6
        print(
            f"degree {nmax}: clean part written in {time.perf_counter() - t0:.1f} s ({mb:.1f} MB)"
        )
        results = {}
        for case in CASES:
            r = results[case] = run_case(workdir, clean_part, case, last, nmax, bomb_bytes)
            print(f"{case:12s} archive {r['archive_mb']:8.1f} MB  peak {r['peak_mib']:7.1f} MiB  "
                  f"{r['seconds']:6.1f} s  {r['outcome']}")  # fmt: skip
    clean = results["clean"]
    if not clean["outcome"].startswith("stored"):
        raise SystemExit(f"the clean year was not stored: {clean['outcome']}")
    accepted = [c for c in CASES[1:] if not results[c]["outcome"].startswith("refused")]
    if accepted:
        raise SystemExit(f"bombs accepted: {accepted}")
    worst = max(CASES[1:], key=lambda c: results[c]["peak_mib"])
    ratio = results[worst]["peak_mib"] / clean["peak_mib"]
    print(f"worst bomb: {worst} ({results[worst]['peak_mib']:.1f} MiB); goal <= 1.5x the clean")
    print(f"peak_ratio={ratio:.2f}x")


if __name__ == "__main__":
    main()
