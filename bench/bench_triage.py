"""Benchmark of the triage checks: what they find in real leaves with planted problems, how often they
speak up on the same leaves clean, and what they add to the time of `taxbot review`.

Run by hand from the repository root (needs ../shared/data):

    python bench/bench_triage.py                 # evaluation and review timing
    python bench/bench_triage.py --skip-timing   # the evaluation only
    python bench/bench_triage.py --verbose       # also list every miss and every flag on a clean leaf

Evaluation: every leaf of both snapshots, clean and with one planted problem each (personal data, a
secret, abuse, a machine-written answer; made by tests/triage/evalset.py). Found: a warning of the
planted check on the planted answer. False alarm: a clean leaf with a warning of the check, the level a
triager is shown on the line and in the labels (a note only sits in the triage table). A few real leaves
really hold what a check looks for (authors' e-mail addresses, a chat model's reply pasted in): they are
named with the reason in evalset.REAL_FINDINGS, counted as found, and listed with --verbose. Goal: at
least 95% found and at most 1% false alarms.

Timing: `taxbot review --no-teacher` of a commit adding the whole 2024-08 snapshot to an empty tree,
and of one adding a single leaf to the rest of it (a usual pull request), in a fresh process each
time (imports included). Baseline: the same code on the same commits with every triage check turned
off in the base's `.taxbot.yaml` (what the review cost without triage); runs alternate with it, so a
busy machine slows both alike. Prints the medians and the ratio with/without. `--before COMMIT` also
times the code of that commit on the same tree.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.triage.check import TriageSettings, triage  # noqa: E402
from bot.triage.hits import Check, Level  # noqa: E402
from tests.triage.evalset import REAL_FINDINGS, found, planted_leaves, real_finding, real_leaves  # noqa: E402


def evaluate(data: Path, verbose: bool) -> bool:
    leaves = real_leaves(data)
    settings = TriageSettings()
    started = time.perf_counter()
    flagged: dict[Check, list[str]] = collections.defaultdict(list)
    real: dict[Check, list[str]] = collections.defaultdict(list)
    for leaf in leaves:
        hits, _ = triage([(leaf, None)], settings)
        for check in sorted({h.check for h in hits if h.level is Level.WARNING}):
            (real if real_finding(leaf.path, check) else flagged)[check].append(leaf.path)
    unflagged = [(path, check) for path, checks in REAL_FINDINGS.items() for check in checks
                 if path not in real[check]]  # fmt: skip
    total, hit = collections.Counter(), collections.Counter()
    misses = []
    for planted in planted_leaves(leaves):
        total[planted.check] += 1
        if found(planted, triage([(planted.leaf, None)], settings)[0]):
            hit[planted.check] += 1
        else:
            misses.append(f"{planted.check} {planted.leaf.path}: {planted.planted!r}")
    seconds = time.perf_counter() - started
    print(f"{len(leaves)} real leaves, {sum(total.values())} planted variants, {seconds:.1f} s")
    print(f"{'check':28} {'found':>12} {'false alarms on clean leaves':>32} {'real findings':>14}")
    ok = True
    for check in Check:
        alarms = len(flagged[check]) / len(leaves)
        if check in total:
            rate = hit[check] / total[check]
            ok &= rate >= 0.95
            found_text = f"{hit[check]}/{total[check]} {rate:.1%}"
        else:
            found_text = "not planted"
        ok &= alarms <= 0.01 or check not in total
        labelled = sum(check in checks for checks in REAL_FINDINGS.values())
        print(f"{check.value:28} {found_text:>12} {len(flagged[check]):>20}/{len(leaves)} {alarms:.1%} "
              f"{len(real[check]):>10}/{labelled}")  # fmt: skip
    ok &= not unflagged
    for path, check in unflagged:
        print(f"real finding not flagged: {check} {path}")
    if verbose:
        for line in misses:
            print("missed:", line)
        for check, paths in real.items():
            for path in paths:
                print(f"real finding: {check} {path}: {real_finding(path, check)}")
        for check, paths in flagged.items():
            for path in paths:
                print(f"clean leaf flagged: {check} {path}")
    print("goal (planted checks): >= 95% found, <= 1% false alarms:", "met" if ok else "NOT met")
    return ok


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def review_seconds(code: Path, taxonomy: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(code)}
    env.pop("TAXBOT_TEACHER_URL", None)
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "bot", "review", "--taxonomy", str(taxonomy), "--base",
                             "HEAD~1", "--head", "HEAD", "--no-teacher"], cwd=code, env=env,
                            capture_output=True, text=True)  # fmt: skip
    if result.returncode not in (0, 1):
        raise SystemExit(f"taxbot review failed ({result.returncode}): {result.stderr[-2000:]}")
    return time.perf_counter() - started


def _commit(taxonomy: Path, message: str) -> None:
    _git(taxonomy, "add", "-A")
    _git(taxonomy, "-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-qm", message)


TRIAGE_OFF = "lint:\n  disable: [" + ", ".join(c.value for c in Check) + "]\n"


def _repo(work: Path, name: str, snapshot: Path, held_back: str | None, config: str = "") -> Path:
    """A repository whose last commit adds the whole snapshot (held_back None) or one leaf's folder."""
    taxonomy = work / name
    taxonomy.mkdir()
    _git(taxonomy, "init", "-q", "-b", "main")
    (taxonomy / "README.md").write_text("taxonomy\n")
    if config:
        (taxonomy / ".taxbot.yaml").write_text(config)
    if held_back is not None:
        shutil.copytree(snapshot, taxonomy, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git"))
        shutil.rmtree(taxonomy / held_back)
    _commit(taxonomy, "base")
    shutil.copytree(snapshot, taxonomy, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".git"))
    _commit(taxonomy, "change")
    return taxonomy


def timing(data: Path, before: str | None, runs: int) -> None:
    snapshot = data / "taxonomy-2024-08"
    one_leaf = "compositional_skills/writing/freeform/jokes/puns/general"
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        codes = {"triage on": ROOT, "triage off": ROOT}
        if before:
            old = work / "before"
            old.mkdir()
            archive = subprocess.run(["git", "archive", before, "bot"], cwd=ROOT, check=True, capture_output=True)
            subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
            codes[f"code of {before[:12]}"] = old
        cases = {"all 147 leaves of 2024-08 added": None, f"one leaf added to 2024-08 ({one_leaf})": one_leaf}
        print(f"taxbot review --no-teacher, median of {runs} fresh processes each, runs alternating:")
        for name, held_back in cases.items():
            key = "all" if held_back is None else "one"
            repos = {label: _repo(work, f"{key}-{i}", snapshot, held_back, TRIAGE_OFF if label == "triage off" else "")
                     for i, label in enumerate(codes)}  # fmt: skip
            times: dict[str, list[float]] = {label: [] for label in codes}
            for _ in range(runs):
                for label, code in codes.items():
                    times[label].append(review_seconds(code, repos[label]))
            median = {label: statistics.median(values) for label, values in times.items()}
            others = ", ".join(f"{label} {median[label]:.1f} s" for label in list(codes)[2:])
            print(f"  {name}: triage off {median['triage off']:.1f} s, triage on {median['triage on']:.1f} s, "
                  f"ratio on/off {median['triage on'] / median['triage off']:.2f}x"
                  + (f"; {others}" if others else ""))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--before", default=None, help="also time the code of this commit (e.g. main before triage)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    if not (args.shared / "taxonomy-2024-08").is_dir():
        raise SystemExit(f"no taxonomy-2024-08 under {args.shared}: pass --shared")
    evaluate(args.shared, args.verbose)
    if not args.skip_timing:
        timing(args.shared, args.before and _git(ROOT, "rev-parse", args.before), args.runs)


if __name__ == "__main__":
    main()
