"""Run journal: which phases of a taxonomy commit's run are done, so a rerun skips them."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from trainer.errors import JournalError

JOURNAL_FILE = "journal.json"


@dataclass(frozen=True)
class PhaseEntry:
    """A phase as the journal last saw it."""

    status: Literal["running", "stopped", "done"]
    fingerprint: str
    final_dir: str | None = None
    finished_at: str | None = None
    checkpoint: str | None = None  # where a stopped phase resumes


@dataclass(frozen=True)
class Journal:
    """The journal of one run directory (one taxonomy commit)."""

    taxonomy_commit: str
    phases: dict[str, PhaseEntry] = field(default_factory=dict)

    def is_done(self, phase: str, fingerprint: str) -> bool:
        """True when the phase finished with these inputs; a phase started with other inputs is an error."""
        entry = self.phases.get(phase)
        if entry is None:
            return False
        if entry.fingerprint != fingerprint:
            raise JournalError(
                f"{phase} of taxonomy commit {self.taxonomy_commit} was {entry.status} with other "
                f"settings or data (fingerprint {entry.fingerprint}, now {fingerprint}); "
                "set run.output_dir or run.taxonomy_commit to a new value, "
                "or delete that run's directory to start over"
            )
        return entry.status == "done"

    def started(self, phase: str, fingerprint: str) -> Journal:
        return replace(self, phases={**self.phases, phase: PhaseEntry("running", fingerprint)})

    def stopped(self, phase: str, checkpoint: str | None) -> Journal:
        entry = replace(self.phases[phase], status="stopped", checkpoint=checkpoint)
        return replace(self, phases={**self.phases, phase: entry})

    def finished(self, phase: str, final_dir: str, at: str) -> Journal:
        entry = replace(self.phases[phase], status="done", final_dir=final_dir, finished_at=at, checkpoint=None)
        return replace(self, phases={**self.phases, phase: entry})

    @property
    def was_stopped(self) -> bool:
        """True when the last run stopped at a checkpoint (a signal), so a rerun resumes."""
        return any(entry.status == "stopped" for entry in self.phases.values())


def load_journal(path: Path, taxonomy_commit: str) -> Journal:
    """The journal at `path`, or an empty one when the run is new."""
    if not path.exists():
        return Journal(taxonomy_commit)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        phases = {name: PhaseEntry(**entry) for name, entry in raw["phases"].items()}
        journal = Journal(raw["taxonomy_commit"], phases)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise JournalError(f"{path} is not a taxbot run journal ({exc}); move it aside to start the run over") from exc
    if journal.taxonomy_commit != taxonomy_commit:
        raise JournalError(
            f"{path} belongs to taxonomy commit {journal.taxonomy_commit}, not {taxonomy_commit}; "
            "give each commit its own run directory"
        )
    return journal


def save_journal(path: Path, journal: Journal) -> None:
    """Write the journal atomically, so a crash mid-write leaves the previous version. Rank 0 alone calls it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    scratch.write_text(json.dumps(asdict(journal), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(scratch, path)
