"""Trainer callbacks: stop cleanly on a scheduler's signal, commit checkpoints atomically, report progress."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from tqdm.auto import tqdm
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from trainer.ranks import Ranks

log = logging.getLogger("taxbot.trainer")

# SIGTERM: pre-emption, `kill`, a time limit. SIGINT: Ctrl-C. SIGUSR1: what Slurm (--signal) and other
# schedulers send some time before they pre-empt a job.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)
COMPLETE_MARKER = "taxbot_complete.json"
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


class StopOnSignal(TrainerCallback):
    """On SIGTERM, SIGINT or SIGUSR1 save a checkpoint at the end of the current step and stop.

    The handler only raises a flag; the save happens at the end of the optimiser step, where the Trainer's
    own checkpointing writes model, optimiser, scheduler, RNG and data position. With several processes
    the flag is OR-ed across ranks, so all ranks stop at the same step even if the signal reaches them at
    different moments (torchrun passes it on to its workers one by one).
    """

    def __init__(self, ranks: Ranks) -> None:
        self.ranks = ranks
        self.received: signal.Signals | None = None
        self.stopped_at: int | None = None

    @contextmanager
    def listening(self) -> Iterator[None]:
        """Catch the stop signals while the block runs; the previous handlers are back afterwards."""
        previous = {signum: signal.signal(signum, self._on_signal) for signum in STOP_SIGNALS}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.received = signal.Signals(signum)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self.ranks.agree(int(self.received is not None)):
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step
            name = self.received.name if self.received is not None else "another rank's signal"
            log.warning("%s: saving a checkpoint at step %d and stopping", name, state.global_step)


class CommitCheckpoints(TrainerCallback):
    """Makes each checkpoint visible only once every rank has written all of it, and rotates old ones.

    The Trainer writes `checkpoint-N` in place; a process killed mid-save leaves a folder that looks like
    a checkpoint. Once the save is over on every rank, rank 0 writes a marker (itself written aside and
    renamed into place); only marked checkpoints are resumed from. Old checkpoints are deleted only after
    the new one is marked, so a crash at any moment leaves at least one complete checkpoint behind.
    """

    def __init__(self, ranks: Ranks, keep: int) -> None:
        self.ranks = ranks
        self.keep = keep

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        self.ranks.wait_for_everyone()
        if self.ranks.is_main:
            phase_dir = Path(args.output_dir)
            commit_checkpoint(phase_dir / f"checkpoint-{state.global_step}", state.global_step)
            for old in complete_checkpoints(phase_dir)[: -self.keep]:
                shutil.rmtree(old, ignore_errors=True)
        self.ranks.wait_for_everyone()


def commit_checkpoint(folder: Path, step: int) -> None:
    """Flush a checkpoint's files to disk, then mark it complete with an atomic rename."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    scratch = folder / f".{COMPLETE_MARKER}.tmp"
    scratch.write_text(json.dumps({"step": step}) + "\n", encoding="utf-8")
    with scratch.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(scratch, folder / COMPLETE_MARKER)


def _checkpoints(phase_dir: Path) -> list[tuple[int, Path]]:
    if not phase_dir.is_dir():
        return []
    found = [(int(m.group(1)), path) for path in phase_dir.iterdir() if (m := _CHECKPOINT.match(path.name))]
    return sorted(found)


def complete_checkpoints(phase_dir: Path) -> list[Path]:
    """Marked checkpoints of a phase, oldest first."""
    return [path for _, path in _checkpoints(phase_dir) if (path / COMPLETE_MARKER).is_file()]


def last_complete_checkpoint(phase_dir: Path) -> Path | None:
    """The newest checkpoint that was written in full, or None: a partial one is never resumed from."""
    complete = complete_checkpoints(phase_dir)
    return complete[-1] if complete else None


def discard_partial_checkpoints(phase_dir: Path) -> list[Path]:
    """Delete checkpoint folders that were never marked complete (a save cut short); returns them."""
    partial = [path for _, path in _checkpoints(phase_dir) if not (path / COMPLETE_MARKER).is_file()]
    for path in partial:
        shutil.rmtree(path)
    return partial


def remove_checkpoints(phase_dir: Path) -> int:
    """Delete every checkpoint of a finished phase (its final model is written); returns bytes freed."""
    freed = 0
    for _, path in _checkpoints(phase_dir):
        freed += sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
        shutil.rmtree(path)
    return freed


class ProgressReport(TrainerCallback):
    """Steps, loss, tokens per second and time left: a tqdm bar in a terminal, log lines elsewhere (CI)."""

    def __init__(self, phase: str, interactive: bool) -> None:
        self.phase = phase
        self.interactive = interactive
        self._bar: Any = None
        self._started = 0.0
        self._first_step = 0
        self._first_tokens = 0

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        self._started = time.monotonic()
        self._first_step = state.global_step
        self._first_tokens = state.num_input_tokens_seen
        if self.interactive and state.is_world_process_zero:
            self._bar = tqdm(total=state.max_steps, initial=state.global_step, desc=self.phase, dynamic_ncols=True)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self._bar is not None:
            self._bar.update(state.global_step - self._bar.n)

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not state.is_world_process_zero or not logs or "loss" not in logs:
            return
        elapsed = max(time.monotonic() - self._started, 1e-9)
        steps = state.global_step - self._first_step
        tokens_per_s = (state.num_input_tokens_seen - self._first_tokens) / elapsed
        left = (state.max_steps - state.global_step) * elapsed / steps if steps else 0.0
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{logs['loss']:.4f}", tok_s=f"{tokens_per_s:,.0f}")
            return
        log.info(
            "%s step %d/%d loss %.4f lr %.2e epoch %.2f, %s tokens/s, %s left",
            self.phase,
            state.global_step,
            state.max_steps,
            logs["loss"],
            logs.get("learning_rate", 0.0),
            logs.get("epoch", 0.0),
            f"{tokens_per_s:,.0f}",
            _duration(left),
        )

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"
