"""The release journal: steps survive a restart, and a journal of another commit is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.release.journal import JournalError, ReleaseJournal, load_journal, save_journal


def test_finished_steps_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "release.json"
    journal = ReleaseJournal("a" * 40).finished("plan", {"tag": "v1"}, "2025-01-31T10:00:00+00:00")
    save_journal(path, journal)
    again = load_journal(path, "a" * 40)
    assert again.result("plan") == {"tag": "v1", "done_at": "2025-01-31T10:00:00+00:00"}
    assert again.result("generate") is None
    assert not list(tmp_path.glob("*.tmp"))


def test_a_journal_of_another_commit_or_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "release.json"
    save_journal(path, ReleaseJournal("a" * 40))
    with pytest.raises(JournalError, match=f"belongs to taxonomy commit {'a' * 40}, not {'b' * 40}"):
        load_journal(path, "b" * 40)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(JournalError, match=r"is not a taxbot release journal .*move it aside to start over"):
        load_journal(path, "a" * 40)
