"""Run under torchrun by a test: several short two-phase runs in one launch, each rank reporting what it saw.

    torchrun --standalone --nproc-per-node 2 -m tests.fakes.repeated_runs CONFIG RUNS REPORT_DIR override ...

Each run trains both phases in a new run folder (taxonomy commit run-0, run-1, ...). Every rank writes
REPORT_DIR/rank-<r>.json: the outcome of each run and the journal as it read it straight after.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from trainer.config import load_config
from trainer.journal import JOURNAL_FILE
from trainer.run import run_training


def main(argv: list[str]) -> None:
    config_path, runs, report_dir, *overrides = argv
    rank = int(os.environ.get("RANK", "0"))
    seen = []
    for index in range(int(runs)):
        config = load_config(Path(config_path), [*overrides, f"run.taxonomy_commit=run-{index}"])
        outcome = run_training(config, interactive=False)
        journal = json.loads((outcome.run_dir / JOURNAL_FILE).read_text(encoding="utf-8"))
        seen.append({"finished": outcome.finished, "final_dir": str(outcome.final_dir), "journal": journal})
    Path(report_dir, f"rank-{rank}.json").write_text(json.dumps(seen), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1:])
