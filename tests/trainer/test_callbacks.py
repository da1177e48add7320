"""Checkpoints are resumed from only once complete; a finished phase's checkpoints are removed."""

from __future__ import annotations

from pathlib import Path

from trainer.callbacks import (
    commit_checkpoint,
    complete_checkpoints,
    discard_partial_checkpoints,
    last_complete_checkpoint,
    remove_checkpoints,
)


def _checkpoint(phase_dir: Path, step: int, *, complete: bool) -> Path:
    folder = phase_dir / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    (folder / "model.safetensors").write_bytes(b"x" * 1000)
    if complete:
        commit_checkpoint(folder, step)
    return folder


def test_a_partial_checkpoint_is_ignored_and_the_previous_one_used(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 5, complete=True)
    ten = _checkpoint(tmp_path, 10, complete=True)
    partial = _checkpoint(tmp_path, 15, complete=False)
    assert last_complete_checkpoint(tmp_path) == ten
    assert discard_partial_checkpoints(tmp_path) == [partial] and not partial.exists()
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["checkpoint-5", "checkpoint-10"]
    assert not list(tmp_path.rglob("*.tmp")), "the marker is renamed into place"


def test_no_checkpoint_means_a_fresh_start(tmp_path: Path) -> None:
    assert last_complete_checkpoint(tmp_path / "absent") is None
    _checkpoint(tmp_path, 3, complete=False)
    assert last_complete_checkpoint(tmp_path) is None


def test_a_finished_phase_frees_its_checkpoints(tmp_path: Path) -> None:
    _checkpoint(tmp_path, 5, complete=True)
    _checkpoint(tmp_path, 10, complete=False)
    (tmp_path / "final").mkdir()
    assert remove_checkpoints(tmp_path) >= 2000
    assert [p.name for p in tmp_path.iterdir()] == ["final"]
