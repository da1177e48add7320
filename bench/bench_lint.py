"""Benchmark: `taxbot lint --profile reference` against instructlab-schema's validator on the same files.

Run by hand:  python bench/bench_lint.py [--shared ../shared/data] [--copies 50]

Sets: both real snapshots, and the 2025 snapshot's leaves copied `--copies` times. For each set it
times the reference (TaxonomyParser, one parse per file, as the community's CI runs it) and taxbot
(the same code path as the `taxbot lint` command), checks that every file gets the same verdict,
and prints the ratio. Goal: at least 20x the reference's speed with the same verdicts.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from instructlab.schema.taxonomy import TaxonomyParser, TaxonomyReadingException

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.lint.batch import collect_targets, lint_targets
from bot.lint.leaf import Profile
from bot.taxonomy.findings import Severity


def reference_verdicts(files: list[Path]) -> dict[str, bool]:
    parser = TaxonomyParser(schema_version=0, message_format="logging")
    verdicts = {}
    for path in files:
        try:
            verdicts[str(path)] = parser.parse(path).errors > 0
        except TaxonomyReadingException:
            verdicts[str(path)] = True
    return verdicts


def taxbot_verdicts(root: Path, jobs: int) -> tuple[dict[str, bool], int]:
    targets = collect_targets([str(root)], None)
    findings = lint_targets(targets, Profile.REFERENCE, jobs)
    failed = {f.path for f in findings if f.severity is Severity.ERROR}
    return {t.display: t.display in failed for t in targets}, len(targets)


def timed(fn, *args):
    started = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - started


def copied_set(snapshot: Path, copies: int, into: Path) -> Path:
    for i in range(copies):
        for top in ("knowledge", "compositional_skills", "foundational_skills"):
            for leaf in (snapshot / top).rglob("qna.yaml"):
                rel = leaf.parent.relative_to(snapshot)
                target = into / rel.parts[0] / f"copy_{i:03d}" / Path(*rel.parts[1:])
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(leaf, target / "qna.yaml")
                attribution = leaf.parent / "attribution.txt"
                if attribution.exists():
                    shutil.copy(attribution, target / "attribution.txt")
    return into


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--copies", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    shared = Path(args.shared)
    if not shared.is_dir():
        print(f"no shared data at {shared}", file=sys.stderr)
        return 2
    # The reference shells out to `yamllint`: make sure it finds the one installed beside this Python.
    os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]
    logging.getLogger("instructlab.schema").setLevel(logging.CRITICAL)

    with tempfile.TemporaryDirectory() as scratch:
        sets = {
            "taxonomy-2024-08": shared / "taxonomy-2024-08",
            "taxonomy-2025-04": shared / "taxonomy-2025-04",
            f"2025-04 x{args.copies}": copied_set(shared / "taxonomy-2025-04", args.copies, Path(scratch)),
        }
        print(f"{'set':<20}{'files':>7}{'reference s':>13}{'taxbot s':>10}{'ratio':>8}  same verdicts")
        total_ref = total_ours = 0.0
        for name, root in sets.items():
            files = sorted(p for p in root.rglob("*") if p.name.lower() in ("qna.yaml", "qna.yml"))
            theirs, ref_seconds = timed(reference_verdicts, files)
            (ours, count), our_seconds = timed(taxbot_verdicts, root, args.jobs)
            same = {str(Path(k).resolve()): v for k, v in ours.items()} == {
                str(Path(k).resolve()): v for k, v in theirs.items()
            }
            total_ref, total_ours = total_ref + ref_seconds, total_ours + our_seconds
            print(
                f"{name:<20}{count:>7}{ref_seconds:>13.3f}{our_seconds:>10.3f}"
                f"{ref_seconds / our_seconds:>7.1f}x  {'yes' if same else 'NO'}"
            )
        print(f"{'all':<20}{'':>7}{total_ref:>13.3f}{total_ours:>10.3f}{total_ref / total_ours:>7.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
