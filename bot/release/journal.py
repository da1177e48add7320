"""The release journal: which steps of a taxonomy commit's release are done, and what each gave."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

STEPS = ("plan", "generate", "train", "gate", "publish", "announce")
JOURNAL_FILE = "release.json"


class JournalError(Exception):
    """The journal cannot be read or belongs to another commit; the message says what to do."""


@dataclass(frozen=True)
class ReleaseJournal:
    taxonomy_commit: str
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def result(self, step: str) -> dict[str, Any] | None:
        """What a finished step recorded; None while it is not done."""
        return self.steps.get(step)

    def finished(self, step: str, result: dict[str, Any], at: str) -> ReleaseJournal:
        return replace(self, steps={**self.steps, step: {**result, "done_at": at}})


def load_journal(path: Path, taxonomy_commit: str) -> ReleaseJournal:
    if not path.exists():
        return ReleaseJournal(taxonomy_commit)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        journal = ReleaseJournal(str(raw["taxonomy_commit"]), dict(raw["steps"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise JournalError(f"{path} is not a taxbot release journal ({error}); move it aside to start over") from error
    if journal.taxonomy_commit != taxonomy_commit:
        raise JournalError(f"{path} belongs to taxonomy commit {journal.taxonomy_commit}, not {taxonomy_commit}")
    return journal


def save_journal(path: Path, journal: ReleaseJournal) -> None:
    """Written atomically: a kill mid-write leaves the previous journal."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    scratch.write_text(json.dumps({"taxonomy_commit": journal.taxonomy_commit, "steps": journal.steps}, indent=2)
                       + "\n", encoding="utf-8")  # fmt: skip
    os.replace(scratch, path)
