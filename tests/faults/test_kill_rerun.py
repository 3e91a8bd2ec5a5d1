"""Kill -9 the running workflow once in every stage, rerun, and get the uninterrupted result.

One working folder goes through the tiny configuration: Snakemake is started (in its own
process group), and when a job of a rule not yet hit starts, the whole group is SIGKILLed at a
seeded random point of that job (drawn within the job's duration in the reference run;
training is killed after it has saved at least one epoch's state, so that its resume is what
gets tested). Then the next run starts, and so on until every rule has been hit; the last run
completes. Every output must then equal the uninterrupted reference run (``tiny_run``):
arrays bitwise, tables byte for byte, the same set of files (nothing lost, nothing
half-written left behind).

Snakemake itself is part of what is killed, so its lock stays behind; it is removed as
``snakemake --unlock`` would. Incomplete outputs are rerun through the profile's
``rerun-incomplete: true`` (``profiles/default``).
"""

import random
import re
import shutil
import time
from pathlib import Path

import faultlib as fl
import pytest

pytestmark = [pytest.mark.faults, pytest.mark.workflow]

SEED = 20250611
#: Rules that are killed only once their progress shows in these files (glob under the run).
PROGRESS = {"train": "results/models/*/state/epoch-*.h5"}
RULE_LINE = re.compile(r"^(?:local)?rule (\w+):\s*$")
JOBID_LINE = re.compile(r"^\s+jobid: (\d+)\s*$")
FINISHED_LINE = re.compile(r"Finished jobid: (\d+)")


def reference_durations(run_dir):
    """Rule -> longest job duration (s) of the reference run, from its benchmarks."""
    out = {}
    bench = Path(run_dir) / "results" / "benchmarks"
    for tsv in bench.rglob("*.tsv"):
        rel = tsv.relative_to(bench)
        rule = rel.parts[0] if len(rel.parts) > 1 else tsv.stem
        lines = tsv.read_text().splitlines()
        seconds = float(lines[1].split("\t")[0]) if len(lines) > 1 else 0.0
        out[rule] = max(out.get(rule, 0.0), seconds)
    return out


def unlock(workdir):
    """What ``snakemake --unlock`` does: remove the locks a killed Snakemake left behind."""
    locks = Path(workdir) / ".snakemake" / "locks"
    if locks.exists():
        shutil.rmtree(locks)


class Watch:
    """Follows a Snakemake log: which jobs (of which rule) started and finished."""

    def __init__(self, path):
        self.path, self.pos, self.rest = Path(path), 0, ""
        self.started, self.finished, self.order = {}, set(), []
        self._rule = None

    def poll(self):
        with open(self.path, "rb") as fh:
            fh.seek(self.pos)
            chunk = fh.read()
        self.pos += len(chunk)
        text = self.rest + chunk.decode("utf-8", "replace")
        *lines, self.rest = text.split("\n")
        for line in lines:
            if m := RULE_LINE.match(line):
                self._rule = m.group(1)
            elif (m := JOBID_LINE.match(line)) and self._rule:
                self.started[m.group(1)] = self._rule
                self.order.append(m.group(1))
                self._rule = None
            elif m := FINISHED_LINE.search(line):
                self.finished.add(m.group(1))

    def running(self):
        return sorted({r for j, r in self.started.items() if j not in self.finished})

    def running_jobs(self):
        return [(j, self.started[j]) for j in self.order if j not in self.finished]


def kill_in_next_rule(workdir, logfile, targets, durations, rng, extra=()):
    """Run Snakemake and kill it in the first job of a rule in ``targets``.

    Of the jobs of such rules running at once, the shortest (by the reference run) is the
    target, so that a short job is caught before it ends while the longer ones run on.
    Returns ``(rule, interrupted, running)``: the rule aimed at, whether its job was still
    running when the kill came, and the rules with jobs running then (all interrupted); or
    ``(None, rc, log)`` when the run ended by itself.
    """
    proc = fl.start(workdir, logfile, *extra)
    watch = Watch(logfile)
    target = jobid = deadline = None
    try:
        while True:
            rc = proc.poll()
            watch.poll()
            if rc is not None:
                proc.logfile.close()
                return None, rc, Path(logfile).read_text(errors="replace")
            now = time.monotonic()
            if target is None:
                candidates = [(durations.get(r, 0.0), jid, r)
                              for jid, r in watch.running_jobs() if r in targets]  # fmt: skip
                if candidates:
                    _, jobid, target = min(candidates)
                if target is not None and target not in PROGRESS:
                    # a random point within the job's reference duration
                    dur = max(durations.get(target, 0.5), 0.3)
                    deadline = now + rng.uniform(0.05, 0.85) * dur
            if target in PROGRESS and deadline is None:
                if any(Path(workdir).glob(PROGRESS[target])) or jobid in watch.finished:
                    deadline = now + rng.uniform(0.0, 0.3)
            if deadline is not None and now >= deadline:
                watch.poll()
                interrupted = jobid not in watch.finished
                running = watch.running()
                fl.kill_group(proc)
                return target, interrupted, running
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            fl.kill_group(proc)


def test_kill_every_stage_and_rerun(tiny_run, tmp_path_factory):
    work = tmp_path_factory.mktemp("killed-run")
    durations = reference_durations(tiny_run)
    rules = set(durations)
    assert {"synthetic_model", "store", "train", "evaluate"} <= rules, sorted(rules)
    rng = random.Random(SEED)
    hit, misses, notes = [], {}, []
    extra = ()
    for attempt in range(3 * len(rules)):
        remaining = rules - set(hit)
        if not remaining:
            break
        unlock(work)
        log = work / f"snakemake-attempt-{attempt:02d}.log"
        rule, flag, info = kill_in_next_rule(work, log, remaining, durations, rng, extra)
        extra = ()
        if rule is None:
            rc, text = flag, info
            assert rc == 0, f"run {attempt} failed after a kill:\n{text[-6000:]}"
            # every job of the remaining rules ran while another was being hit: run them again
            extra = ("--forcerun", *sorted(remaining))
            continue
        # every rule with a job running at the kill was interrupted at a random point
        interrupted = [r for r in info if r in remaining]
        if not flag and not interrupted and misses.get(rule, 0) < 2:
            misses[rule] = misses.get(rule, 0) + 1  # the job ended first; try it again
            continue
        for r in interrupted or [rule]:
            hit.append(r)
            name = f"kill -9 during {r}"
            fl.tried(name)
            notes.append(f"{name} (attempt {attempt}, aimed at {rule}; running: {info})")
    assert set(hit) == rules, f"rules never hit: {sorted(rules - set(hit))}"

    unlock(work)
    final = fl.run(work)
    ok = final.returncode == 0
    detail = "" if ok else final.stderr[-3000:]
    diffs = fl.compare_runs(tiny_run, work) if ok else []
    stray = [p for p in fl.partial_files(work) if not p.startswith(".snakemake")]
    survived = ok and not diffs and not stray
    fl.settle([f"kill -9 during {r}" for r in hit], survived, detail or "; ".join(diffs + stray))
    print("\n".join(notes))
    assert ok, f"the run after the last kill failed:\n{detail}"
    assert not stray, f"half-written files left behind: {stray}"
    assert not diffs, "outputs differ from the uninterrupted run:\n" + "\n".join(diffs[:40])
    again = fl.run(work, "-n")
    assert "Nothing to be done" in again.stdout + again.stderr, again.stdout[-3000:]
