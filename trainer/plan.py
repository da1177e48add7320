"""Phase plans: which sets each phase reads, which model it starts from, and its batch arithmetic."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.config import PhaseSettings, TrainConfig
from trainer.errors import ConfigError

FINAL_DIR = "final"
METADATA_FILE = "taxbot_phase.json"


@dataclass(frozen=True)
class PhasePlan:
    """One phase of a run, decided before any data or model is touched."""

    name: str
    sets: tuple[str, ...]
    replay_set: str | None
    replay_fraction: float
    start_model: str
    settings: PhaseSettings
    follows: str | None  # the phase whose final checkpoint this one starts from
    knowledge_share: float | None = None  # replay tops phase 2 up to this share of knowledge (else replay_fraction)

    def phase_dir(self, run_dir: Path) -> Path:
        return run_dir / self.name

    def final_dir(self, run_dir: Path) -> Path:
        return run_dir / self.name / FINAL_DIR


def plan_phases(config: TrainConfig, run_dir: Path) -> list[PhasePlan]:
    """Phase 1 (knowledge), then phase 2 (skills + replay) from phase 1's final model; or one stacked pass."""
    given = {
        "model.name_or_path=PATH_OR_NAME": config.model.name_or_path,
        "data.phase1=KNOWLEDGE.jsonl": config.data.phase1,
        "data.phase2=SKILLS.jsonl": config.data.phase2,
    }
    if config.run.mode == "stacked":
        model, knowledge, skills = _need(given)
        stacked = PhasePlan("stacked", (knowledge, skills), None, 0.0, model, config.stacked, follows=None)
        return [stacked]
    if config.run.stop_after == "phase1":
        del given["data.phase2=SKILLS.jsonl"]
    model, knowledge, *rest = _need(given)
    phase1 = PhasePlan("phase1", (knowledge,), None, 0.0, model, config.phase1, follows=None)
    if not rest:
        return [phase1]
    replay = knowledge if config.data.replay_fraction > 0 else None
    start = str(phase1.final_dir(run_dir))
    phase2 = PhasePlan(
        "phase2",
        (rest[0],),
        replay,
        config.data.replay_fraction,
        start,
        config.phase2,
        "phase1",
        config.data.knowledge_share,
    )
    return [phase1, phase2]


def _need(given: dict[str, str | None]) -> list[str]:
    missing = [flag for flag, value in given.items() if value is None]
    if missing:
        raise ConfigError(f"nothing to train on yet: add {' '.join(missing)} to the command")
    return [value for value in given.values() if value is not None]


def gradient_accumulation(effective_batch: int, samples: int, packs: int, world_size: int) -> int:
    """Packs per process and optimiser step, so that one step sees about effective_batch samples."""
    samples_per_pack = samples / packs
    return max(1, round(effective_batch / (samples_per_pack * world_size)))


@dataclass(frozen=True)
class Schedule:
    """A phase's batch and warmup fitted to its data, the same on every rank."""

    effective_batch: int  # samples per optimiser step asked for, after fitting to the data
    accumulation: int  # packs per rank and optimiser step
    steps: int  # optimiser steps the phase takes
    warmup_steps: int
    samples_per_step: float  # what one step really sees, across ranks

    def summary(self, settings: PhaseSettings, world_size: int) -> dict[str, Any]:
        return {
            "world_size": world_size,
            "effective_batch_configured": settings.effective_batch,
            "effective_batch": self.effective_batch,
            "gradient_accumulation_steps": self.accumulation,
            "samples_per_step": round(self.samples_per_step, 1),
            "steps": self.steps,
            "warmup_steps": self.warmup_steps,
        }


def fit_schedule(settings: PhaseSettings, samples: int, packs: int, world_size: int) -> Schedule:
    """Effective batch and warmup scaled to the phase's size, so that a small phase reaches its learning rate.

    LAB's phase 2 (effective batch 3,840, 25 warmup steps) takes 2.5 steps an epoch on 9,600 samples and ends
    before warmup does. Here the batch shrinks until an epoch has min_steps_per_epoch steps, and warmup is
    capped at max_warmup_share of all steps.
    """
    effective = min(settings.effective_batch, max(1, math.ceil(samples / settings.min_steps_per_epoch)))
    accumulation = gradient_accumulation(effective, samples, packs, world_size)
    # As the Trainer counts: each rank's share of the packs, then accumulation windows, the last one partial.
    per_epoch = math.ceil(math.ceil(packs / world_size) / accumulation)
    steps = settings.max_steps if settings.max_steps > 0 else math.ceil(settings.epochs * per_epoch)
    warmup = min(settings.warmup_steps, math.floor(steps * settings.max_warmup_share))
    return Schedule(effective, accumulation, steps, warmup, accumulation * world_size * samples / packs)


def fingerprint(plan: PhasePlan, config: TrainConfig, set_digests: dict[str, str]) -> str:
    """What makes a phase's result what it is; a rerun may skip or resume a phase only if this matches."""
    model = dataclasses.asdict(config.model)
    model.pop("name_or_path")  # already in plan.start_model
    payload: dict[str, Any] = {
        "plan": dataclasses.asdict(plan),
        "model": model,
        "max_length": config.data.max_length,
        "pack_tokens": config.data.pack_tokens,
        "seed": config.run.seed,
        "sets": {path: set_digests[path] for path in (*plan.sets, *filter(None, [plan.replay_set]))},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def inherited_summary(previous: dict[str, Any]) -> dict[str, Any]:
    """What a phase records about the phase it starts from, taken from that phase's saved metadata."""
    keys = (
        "phase",
        "taxonomy_commit",
        "fingerprint",
        "start_model",
        "settings",
        "steps",
        "final_loss",
        "data",
    )
    return {key: previous[key] for key in keys if key in previous}
