"""Ingest benchmark: ICGEM reader speed and one letter-year from files to mean-removed windows.

(a) Files per second on one core: ``gravsep.formats.icgem.read_icgem`` against
    ``pyshtools.shio.read_icgem_gfc`` on the same generated degree-180 files, in one run
    (median of repeats), after checking that both give bit-identical arrays; first with the
    C library's default allocator settings (the ratio on the last line), then with freed
    memory retained (``gravsep.malloc``, what the workflow's scripts set).
(b) One letter-year (1460 6-hourly files) to weekly, mean-removed windows:
    project:  build_letter_store -> window_means -> remove_yearly_mean (each file parsed once)
    original: emulation of the reference's three passes over text files, each parsed with
              pyshtools: combine (parse every 6-hourly file, write the combined file), windows
              (parse every combined file, write each window's mean), yearly mean (parse every
              window file, write the mean-removed windows).
    Each runs in its own subprocess with freed memory retained; wall time and peak resident
    memory (getrusage) are measured there.

Usage: ``.venv/bin/python benchmarks/bench_ingest.py [--quick] [--workdir DIR]``.
--quick: 40 reader files and a letter-year at degree 30 (a smoke test, figures not meaningful).
The last line printed is ``reader_ratio=<x>x pipeline_ratio=<y>x``.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))
from gravsep.formats.archive import member_name, year_epochs  # noqa: E402

YEAR, LETTER, DELTAT = 1995, "A", 168


def field(nmax, k, seed=0):
    """Coefficients of epoch k: a degree spectrum like that of mass variations (1e-10..1e-13)."""
    rng = np.random.default_rng(seed * 100003 + k)
    n = np.arange(nmax + 1)[:, None]
    cs = rng.normal(size=(2, nmax + 1, nmax + 1)) * 1e-10 / (n + 1.0)
    cs *= np.tri(nmax + 1)
    cs[1, :, 0] = 0.0
    return cs


def _write_one(args):
    from gravsep.formats.icgem import format_icgem

    folder, nmax, k, t = args
    path = Path(folder) / member_name(LETTER, t)
    if not path.exists():
        path.write_text(format_icgem(field(nmax, k), modelname=path.stem))
    return str(path)


def make_files(folder, nmax, count):
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(str(folder), nmax, k, t) for k, t in enumerate(year_epochs(YEAR)[:count])]
    with Pool(2) as pool:
        return pool.map(_write_one, jobs, chunksize=16)


def time_reader(read, files, repeats):
    """Files per second: (wall clock, CPU time of this process), medians of the repeats.

    CPU time is the per-core figure that holds when other processes share the cores.
    """
    wall, cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for f in files:
            read(f)
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return len(files) / statistics.median(wall), len(files) / statistics.median(cpu)


# ------------------------------------------------------------------ child processes


def child_project(files, work, nmax):
    from gravsep.ingest.preprocess import remove_yearly_mean, window_means
    from gravsep.ingest.stores import build_letter_store

    store, win, anom = work / "store.h5", work / "windows.h5", work / "anomalies.h5"
    build_letter_store(files, store, LETTER, YEAR, nmax)
    window_means([store], win, LETTER, [YEAR], DELTAT, YEAR)
    remove_yearly_mean(win, anom)
    return {"bytes_written": sum(p.stat().st_size for p in (store, win, anom))}


def child_original(files, work, nmax):
    """Emulation of the reference's passes: text files between stages, pyshtools parse."""
    from gravsep.formats.archive import parse_member_name
    from gravsep.formats.icgem import write_icgem
    from gravsep.ingest.preprocess import window_name, windows_of_year
    from pyshtools.shio import read_icgem_gfc

    combined = work / "combined"
    windows = work / "windows"
    anomalies = work / "anomalies"
    for d in (combined, windows, anomalies):
        d.mkdir(parents=True, exist_ok=True)
    # pass 1: combine letters epoch by epoch (one letter here: parse, sum, write)
    by_epoch = {}
    for f in files:
        cilm, gm, r0 = read_icgem_gfc(f)
        total = cilm.copy()
        epoch = parse_member_name(Path(f).name)[1]
        out = combined / Path(f).name
        write_icgem(out, total, gm=gm, radius=r0)
        by_epoch[epoch] = out
    # pass 2: window means, parsing every combined file
    start, end = windows_of_year([YEAR], DELTAT, YEAR)
    step = np.timedelta64(6, "h")
    names = []
    for s, e in zip(start, end, strict=True):
        total, count = None, 0
        for t in np.arange(s, e, step):
            cilm, gm, r0 = read_icgem_gfc(str(by_epoch[t]))
            total = cilm if total is None else total + cilm
            count += 1
        name = windows / window_name(LETTER, s, e)
        write_icgem(name, total / count, gm=gm, radius=r0)
        names.append(name)
    # pass 3: yearly mean, parsing every window file
    cubes = [read_icgem_gfc(str(p))[0] for p in names]
    mean = sum(cubes) / len(cubes)
    for p, c in zip(names, cubes, strict=True):
        write_icgem(anomalies / p.name, c - mean, gm=gm, radius=r0)
    return {"windows": len(names)}


def run_child(kind, files, work, nmax):
    """Run one approach in a subprocess; its wall time and peak RSS."""
    listing = work / f"{kind}_files.json"
    listing.write_text(json.dumps(files))
    cmd = [sys.executable, __file__, "--child", kind, str(listing), str(work / kind), str(nmax)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def child_main(kind, listing, work, nmax):
    from gravsep.malloc import retain_freed_memory

    retain_freed_memory()  # as the workflow's scripts do; the same for both approaches
    files = json.loads(Path(listing).read_text())
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    use = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = use.ru_utime + use.ru_stime
    t0 = time.perf_counter()
    extra = (child_project if kind == "project" else child_original)(files, work, int(nmax))
    wall = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    peak = use.ru_maxrss / 1024  # KiB -> MiB on Linux
    cpu = use.ru_utime + use.ru_stime - cpu0
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_mib": peak, **extra}))


# ------------------------------------------------------------------ main


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few files, small degree (smoke test)")
    ap.add_argument("--workdir", help="folder for generated files (default: a temporary one)")
    ap.add_argument("--reader-files", type=int, default=None)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_main(*args.child)

    from gravsep.formats.icgem import read_icgem
    from gravsep.malloc import retain_freed_memory
    from pyshtools.shio import read_icgem_gfc

    n_reader = args.reader_files or (40 if args.quick else 240)
    repeats = args.repeats or (3 if args.quick else 5)
    pipe_nmax = 30 if args.quick else 180
    if args.workdir:  # generated files are kept there and reused
        cache = Path(args.workdir)
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        cache = cache if args.workdir else tmp
        t0 = time.perf_counter()
        reader_files = make_files(cache / "d180", 180, n_reader)
        print(f"generated {n_reader} degree-180 files in {time.perf_counter() - t0:.1f} s "
              f"({os.path.getsize(reader_files[0]) / 1e6:.2f} MB each)")  # fmt: skip
        for f in reader_files[:3]:
            a, b = read_icgem(f, nmax=180)[0], read_icgem_gfc(f)[0]
            assert a.dtype == b.dtype and np.array_equal(a, b), f"{f}: readers disagree"
        print(f"(a) reader, degree 180, {n_reader} files, one process (median of repeats):")
        ratios = []
        for setting in ("default allocator", "retained freed memory (the workflow's setting)"):
            if ratios:
                assert retain_freed_memory(), "mallopt refused"
            ours = time_reader(lambda f: read_icgem(f, nmax=180), reader_files, repeats)
            theirs = time_reader(read_icgem_gfc, reader_files, max(1, repeats - 2))
            ratios.append(ours[1] / theirs[1])
            print(f"  {setting}:")
            for label, (w, c) in [("gravsep.formats.icgem.read_icgem", ours),
                                  ("pyshtools.shio.read_icgem_gfc", theirs)]:  # fmt: skip
                print(f"    {label:30s} {c:7.1f} files/s per core (CPU time, "
                      f"{1e3 / c:.2f} ms/file), {w:7.1f} files/s wall")  # fmt: skip
            print(f"    ratio {ratios[-1]:.1f}x per core (wall: {ours[0] / theirs[0]:.1f}x); "
                  "results bit-identical")  # fmt: skip
        reader_ratio = ratios[0]  # the plain process: the smaller, library-level figure

        n_year = len(year_epochs(YEAR))
        t0 = time.perf_counter()
        year_files = make_files(cache / f"d{pipe_nmax}", pipe_nmax, n_year)
        print(f"generated {n_year} degree-{pipe_nmax} files in {time.perf_counter() - t0:.1f} s")
        proj = run_child("project", year_files, tmp, pipe_nmax)
        orig = run_child("original", year_files, tmp, pipe_nmax)
        pipeline_ratio = orig["wall_s"] / proj["wall_s"]
        print(f"(b) one letter-year ({n_year} files, degree {pipe_nmax}) -> "
              f"{orig['windows']} weekly mean-removed windows:")  # fmt: skip
        for label, r in [("project  (store, window_means, remove_yearly_mean)", proj),
                         ("original (3 passes, pyshtools parse, text files)", orig)]:  # fmt: skip
            print(f"    {label}: {r['wall_s']:7.1f} s wall, {r['cpu_s']:7.1f} s CPU, "
                  f"peak {r['peak_mib']:6.0f} MiB")  # fmt: skip
        print(f"    ratio {pipeline_ratio:.1f}x wall ({orig['cpu_s'] / proj['cpu_s']:.1f}x CPU)")
    print(f"reader_ratio={reader_ratio:.1f}x pipeline_ratio={pipeline_ratio:.1f}x")


if __name__ == "__main__":
    main()
