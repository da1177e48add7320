"""Trainer callbacks: checkpoint-and-stop on SIGTERM, and progress as a bar or as plain log lines."""

from __future__ import annotations

import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import torch
import torch.distributed as dist
from tqdm.auto import tqdm
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

log = logging.getLogger("taxbot.trainer")


class SigtermCheckpoint(TrainerCallback):
    """On SIGTERM (pre-emption, `kill`, a scheduler's time limit) save a checkpoint and stop cleanly.

    The handler only raises a flag; the save happens at the end of the current optimiser step, where
    the Trainer's own checkpointing writes model, optimiser, scheduler, RNG and data position. With
    several processes the flag is OR-ed across ranks, so all ranks stop at the same step even if the
    signal reaches them at different moments.
    """

    def __init__(self) -> None:
        self.requested = False
        self.stopped_at: int | None = None

    @contextmanager
    def listening(self) -> Iterator[None]:
        """Catch SIGTERM while the block runs; the previous handler is back afterwards, even on error."""
        previous = signal.signal(signal.SIGTERM, self._on_signal)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._any_rank_requested(args):
            control.should_save = True
            control.should_training_stop = True
            self.stopped_at = state.global_step
            log.warning("SIGTERM: saving a checkpoint at step %d and stopping", state.global_step)

    def _any_rank_requested(self, args: TrainingArguments) -> bool:
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return self.requested
        flag = torch.tensor([int(self.requested)], device=args.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())


class ProgressReport(TrainerCallback):
    """A tqdm bar with the latest loss in a terminal; one log line per logged step elsewhere (CI)."""

    def __init__(self, phase: str, interactive: bool) -> None:
        self.phase = phase
        self.interactive = interactive
        self._bar: Any = None

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self.interactive and state.is_world_process_zero:
            self._bar = tqdm(
                total=state.max_steps, initial=state.global_step, desc=self.phase, dynamic_ncols=True
            )

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
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
        if self._bar is not None:
            self._bar.set_postfix(loss=f"{logs['loss']:.4f}", lr=f"{logs.get('learning_rate', 0.0):.2e}")
        else:
            log.info(
                "%s step %d/%d loss %.4f lr %.2e epoch %.2f",
                self.phase,
                state.global_step,
                state.max_steps,
                logs["loss"],
                logs.get("learning_rate", 0.0),
                logs.get("epoch", 0.0),
            )

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
