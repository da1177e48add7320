"""A training run: the planned phases in order, skipping those the journal records as done."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trainer.callbacks import StopOnSignal, remove_checkpoints
from trainer.config import TrainConfig
from trainer.curves import write_curves
from trainer.errors import DataError, JournalError
from trainer.journal import JOURNAL_FILE, Journal, load_journal, save_journal
from trainer.plan import METADATA_FILE, PhasePlan, fingerprint, plan_phases
from trainer.prepare import data_folder
from trainer.ranks import Ranks, start_ranks, use_cpu
from trainer.train import train_phase

log = logging.getLogger("taxbot.trainer")


@dataclass(frozen=True)
class RunOutcome:
    """Where a run stands: all phases finished (final_dir is the model to evaluate) or stopped by a signal."""

    finished: bool
    run_dir: Path
    final_dir: Path | None = None
    checkpoint: str | None = None
    stopped_by: str | None = None


def run_training(
    config: TrainConfig,
    *,
    interactive: bool,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> RunOutcome:
    """Train every planned phase that is not done yet; the last phase's final directory is the result.

    Under torchrun every rank runs this; rank 0 alone writes the journal, metadata and curves, and the
    others wait for it at each point where they read what it wrote.
    """
    ranks = start_ranks(use_cpu(config.run.use_cpu))
    run_dir = Path(config.run.output_dir) / config.run.taxonomy_commit
    plans = plan_phases(config, run_dir)
    journal_path = run_dir / JOURNAL_FILE
    journal = load_journal(journal_path, config.run.taxonomy_commit)
    digests = _digests({path for plan in plans for path in (*plan.sets, plan.replay_set) if path})
    stop = StopOnSignal(ranks)
    with stop.listening():
        return _run_phases(plans, config, run_dir, journal, digests, ranks, stop, interactive, now)


def _run_phases(
    plans: list[PhasePlan],
    config: TrainConfig,
    run_dir: Path,
    journal: Journal,
    digests: dict[str, str],
    ranks: Ranks,
    stop: StopOnSignal,
    interactive: bool,
    now: Callable[[], datetime],
) -> RunOutcome:
    journal_path = run_dir / JOURNAL_FILE
    for plan in plans:
        phase_fingerprint = fingerprint(plan, config, digests)
        if journal.is_done(plan.name, phase_fingerprint):
            if not (plan.final_dir(run_dir) / METADATA_FILE).is_file():
                raise JournalError(
                    f"{journal_path} records {plan.name} as done but {plan.final_dir(run_dir)} is gone; "
                    "delete the run directory to train again"
                )
            log.info("%s: already done for taxonomy commit %s, skipping", plan.name, config.run.taxonomy_commit)
            continue
        journal = _record(ranks, journal_path, journal.started(plan.name, phase_fingerprint))
        outcome = train_phase(plan, config, run_dir, phase_fingerprint, ranks, stop, interactive=interactive)
        if not outcome.finished:
            _record(ranks, journal_path, journal.stopped(plan.name, outcome.checkpoint))
            log.warning("%s: stopped at %s; rerun the same command to resume", plan.name, outcome.checkpoint)
            return RunOutcome(
                finished=False, run_dir=run_dir, checkpoint=outcome.checkpoint, stopped_by=outcome.stopped_by
            )
        finished_at = now().isoformat(timespec="seconds")
        journal = _record(ranks, journal_path, journal.finished(plan.name, str(outcome.final_dir), finished_at))
        if ranks.is_main:
            _tidy(plan, run_dir, phase_fingerprint)
    if ranks.is_main:
        _write_run_curves(run_dir, plans)
    ranks.wait_for_everyone()
    return RunOutcome(finished=True, run_dir=run_dir, final_dir=plans[-1].final_dir(run_dir))


def _record(ranks: Ranks, path: Path, journal: Journal) -> Journal:
    """Every rank holds the same journal; rank 0 alone writes it, and the others wait until it has."""
    if ranks.is_main:
        save_journal(path, journal)
    ranks.wait_for_everyone()
    return journal


def _tidy(plan: PhasePlan, run_dir: Path, phase_fingerprint: str) -> None:
    """A finished phase's checkpoints and prepared data are no longer needed once its final model is saved."""
    phase_dir = plan.phase_dir(run_dir)
    freed = remove_checkpoints(phase_dir)
    prepared = data_folder(phase_dir, phase_fingerprint)
    if prepared.is_dir():
        freed += sum(f.stat().st_size for f in prepared.rglob("*") if f.is_file())
        shutil.rmtree(prepared)
    if freed:
        log.info("%s: removed its checkpoints and prepared data (%.1f MB)", plan.name, freed / 1e6)


def _digests(paths: set[str]) -> dict[str, str]:
    digests = {}
    for path in sorted(paths):
        try:
            with open(path, "rb") as handle:
                digests[path] = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError as exc:
            raise DataError(f"cannot read phase set {path}: {exc.strerror}") from exc
    return digests


def _write_run_curves(run_dir: Path, plans: list[PhasePlan]) -> None:
    curves = {}
    for plan in plans:
        metadata = json.loads((plan.final_dir(run_dir) / METADATA_FILE).read_text(encoding="utf-8"))
        curves[plan.name] = [(int(step), float(loss)) for step, loss in metadata["loss_curve"]]
    json_path, png_path = write_curves(run_dir, curves)
    log.info("loss curves: %s, %s", json_path, png_path)
