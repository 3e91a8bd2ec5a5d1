"""Dataset benchmark: input-target pairs of one year at full size.

One year of weekly windows (52) for four components at degree 180: 512x512 grids, time
resampled to 512 steps, lat_lon sampling, Gaussian filter at degree 100, EWH.

project:  ``gravsep.dataset.build.build_dataset`` on window stores (streamed, float32 storage).
original: emulation of the reference's part 01 (own code): per window file a pyshtools
          parse, filter, EWH, MakeGridDH (float64); stack to a lat-lon-t cube per component;
          a Python loop over every grid point with ``np.interp`` for the time axis (on the grid
          ``linspace(0, numt, dim)``, as the reference); float64 transposes, sum and HDF5
          write. The loop over all 4 x 512 x 512 points and the 5.4 GB float64 write would
          take long: both are timed on a subset (``--points`` grid points, ``--write-samples``
          samples) and extrapolated linearly; the output says which figures are extrapolated.
          Its peak memory is estimated from the arrays it holds at once.

Each approach runs in its own subprocess (wall time, peak RSS by getrusage), with freed memory
retained (``gravsep.malloc``) as in the workflow's scripts.
Usage: ``.venv/bin/python benchmarks/bench_dataset.py [--quick] [--workdir DIR]``; --quick
uses degree 31 (64x64 grids) as a smoke test. Last line: ``dataset_ratio=<x>x peak_mib=<m>``.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow"))

COMPS = ["AO", "H", "I", "S"]
YEAR, NWIN, NMAX_FLT = 2006, 52, 100
WEEK = 7 * 86400


def make_inputs(folder, nmax):
    """Window stores (project) and ICGEM window files (original) with the same coefficients."""
    from gravsep.formats.icgem import write_icgem
    from gravsep.formats.store import StoreWriter
    from gravsep.ingest.preprocess import window_name

    rng = np.random.default_rng(0)
    n = np.arange(nmax + 1)[:, None]
    t0 = int(np.datetime64(f"{YEAR}-01-01T00:00:00", "s").astype(np.int64))
    start = t0 + WEEK * np.arange(NWIN)
    stores, files = {}, {}
    for comp in COMPS:
        cs = rng.normal(size=(NWIN, 2, nmax + 1, nmax + 1)) * 1e-10 / (n + 1.0)
        cs *= np.tri(nmax + 1)
        cs[:, 1, :, 0] = 0.0
        path = folder / f"{comp}_{YEAR}.h5"
        with StoreWriter(path, comp, YEAR, nmax, NWIN, "anomalies", 3.986005e14, 6378137.0) as w:
            w.write(0, cs, start)
            w.set_window_ends(start + WEEK)
        stores[comp] = str(path)
        d = folder / "icgem" / comp
        d.mkdir(parents=True, exist_ok=True)
        files[comp] = []
        for k in range(NWIN):
            s, e = (np.datetime64(int(v), "s") for v in (start[k], start[k] + WEEK))
            p = d / window_name(comp, s, e)
            write_icgem(p, cs[k])
            files[comp].append(str(p))
    return stores, files


def child_project(spec):
    from gravsep.dataset.build import build_dataset

    stores = {(c, YEAR): p for c, p in spec["stores"].items()}
    split = {"train_years": [], "validation_years": [], "test_years": [YEAR]}
    out = Path(spec["work"]) / "samples.h5"
    build_dataset(stores, out, COMPS, [YEAR], split, NMAX_FLT, "EWH", {"type": "global"},
                  "lat_lon")  # fmt: skip
    return {"bytes": out.stat().st_size}


def child_original(spec):
    import h5py
    from gravsep.harmonics import filtering, grids, units
    from pyshtools.expand import MakeGridDH
    from pyshtools.shio import read_icgem_gfc

    timing = {}
    t0 = time.perf_counter()
    cubes = []
    nmax = spec["nmax"]
    dim = grids.grid_size(nmax)
    lmax_ext = (dim - 2) // 2
    weights = filtering.gaussian_weights(nmax, filtering.half_width_km(NMAX_FLT))
    factors = units.ewh_factors(nmax)
    for comp in COMPS:
        t_lat_lon = []
        for f in spec["files"][comp]:
            cilm, _, _ = read_icgem_gfc(f)
            cilm = cilm * weights[:, None] * factors[:, None]
            ext = np.zeros((2, lmax_ext + 1, lmax_ext + 1))
            ext[:, : nmax + 1, : nmax + 1] = cilm
            t_lat_lon.append(MakeGridDH(ext, sampling=1))
        cubes.append(np.transpose(np.array(t_lat_lon), (1, 2, 0)))
    numt = min(c.shape[2] for c in cubes)
    cube = np.array([c[:, :, :numt] for c in cubes])
    timing["parse_synthesis_s"] = time.perf_counter() - t0
    # the loop over every grid point, on a subset of points, extrapolated
    tvec_orig = np.arange(numt)
    tvec_dim = np.linspace(0, numt, num=dim)
    total_points = len(COMPS) * dim * dim
    points = min(spec["points"], total_points)
    flat = cube.reshape(-1, numt)
    res = np.zeros((points, dim))
    t0 = time.perf_counter()
    for p in range(points):
        res[p] = np.interp(tvec_dim, tvec_orig, flat[p])
    timing["interp_subset_s"] = time.perf_counter() - t0
    timing["interp_points"] = points
    timing["interp_full_s"] = timing["interp_subset_s"] * total_points / points
    # transposes, sum and float64 write of a subset of samples (one sample = one time step)
    ns = min(spec["write_samples"], dim)
    t0 = time.perf_counter()
    part = np.zeros((len(COMPS), dim, dim, ns))  # stands for the resampled cube's slice
    part[:] = cube[..., :1]
    samples = np.transpose(part, (3, 1, 2, 0))
    summed = np.sum(samples, axis=3)
    with h5py.File(Path(spec["work"]) / "original.h5", "w") as f:
        f.create_dataset("input", summed.shape, dtype=float)[...] = summed
        f.create_dataset("target", samples.shape, dtype=float)[...] = samples
    timing["write_subset_s"] = time.perf_counter() - t0
    timing["write_samples"] = ns
    timing["write_full_s"] = timing["write_subset_s"] * dim / ns
    timing["estimated_total_s"] = (
        timing["parse_synthesis_s"] + timing["interp_full_s"] + timing["write_full_s"]
    )
    # arrays held at once at full size: stacked window cube, the resampled float64 cube,
    # its transposed copy and the sum (the reference's lists are freed only at the end)
    c = len(COMPS)
    timing["estimated_peak_mib"] = 8 * (2 * c * dim * dim * numt + 2 * c * dim**3 + dim**3) / 2**20
    return timing


def child_main(kind, spec_path):
    spec = json.loads(Path(spec_path).read_text())
    import h5py  # noqa: F401 (imports outside the timed part: pyshtools, h5py)
    import pyshtools  # noqa: F401
    from gravsep.malloc import retain_freed_memory

    retain_freed_memory()  # as the workflow's scripts do; the same for both approaches

    use = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = use.ru_utime + use.ru_stime
    t0 = time.perf_counter()
    extra = (child_project if kind == "project" else child_original)(spec)
    wall = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    peak = use.ru_maxrss / 1024  # KiB -> MiB on Linux
    cpu = use.ru_utime + use.ru_stime - cpu0
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_mib": peak, **extra}))


def run_child(kind, spec, work):
    path = work / f"{kind}.json"
    path.write_text(json.dumps({**spec, "work": str(work)}))
    cmd = [sys.executable, __file__, "--child", kind, str(path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="degree 31, 64x64 (smoke test)")
    ap.add_argument("--workdir", help="folder for generated files (default: a temporary one)")
    ap.add_argument("--points", type=int, default=20000, help="grid points timed in the loop")
    ap.add_argument("--write-samples", type=int, default=32, help="float64 samples written")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child_main(*args.child)
    nmax = 31 if args.quick else 180
    if args.workdir:
        Path(args.workdir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        stores, files = make_inputs(tmp, nmax)
        print(f"generated {len(COMPS)} x {NWIN} windows at degree {nmax} "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        spec = {"stores": stores, "files": files, "nmax": nmax, "points": args.points,
                "write_samples": args.write_samples}  # fmt: skip
        proj = run_child("project", spec, tmp)
        orig = run_child("original", spec, tmp)
    dim = 1 << (2 * nmax + 1).bit_length()
    ratio = orig["estimated_total_s"] / proj["wall_s"]
    print(f"one year, {len(COMPS)} components, {NWIN} windows -> {dim}x{dim}x{dim} per component")
    print(f"project  build_dataset: {proj['wall_s']:.1f} s wall ({proj['cpu_s']:.1f} s CPU), "
          f"peak {proj['peak_mib']:.0f} MiB "
          f"(measured), output {proj['bytes'] / 2**20:.0f} MiB float32")  # fmt: skip
    print(f"original: parse+filter+synthesis {orig['parse_synthesis_s']:.1f} s wall (measured); "
          f"per-point loop {orig['interp_full_s']:.1f} s (extrapolated from "
          f"{orig['interp_points']} of {len(COMPS) * dim * dim} points, "
          f"{orig['interp_subset_s']:.2f} s); float64 write {orig['write_full_s']:.1f} s "
          f"(extrapolated from {orig['write_samples']} of {dim} samples); "
          f"total {orig['estimated_total_s']:.1f} s (estimate)")  # fmt: skip
    print(f"original peak memory: {orig['peak_mib']:.0f} MiB measured on the subset run, "
          f"{orig['estimated_peak_mib']:.0f} MiB estimated at full size")  # fmt: skip
    print(f"dataset_ratio={ratio:.1f}x peak_mib={proj['peak_mib']:.0f}")


if __name__ == "__main__":
    main()
