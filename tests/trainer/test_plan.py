"""The schedule fits the data: a small phase reaches its learning rate, ranks change nothing but the split."""

from __future__ import annotations

import pytest

from trainer.config import PhaseSettings, TrainConfig
from trainer.plan import fit_schedule

LAB_PHASE2 = TrainConfig().phase2


def test_lab_phase2_on_a_taxonomy_sized_set_still_warms_up_and_then_trains() -> None:
    # 9,600 samples at LAB's 3,840 a step is 2.5 steps an epoch: 25 steps in all, every one of them warmup.
    schedule = fit_schedule(LAB_PHASE2, samples=9600, packs=2400, world_size=8)
    assert schedule.effective_batch == 960, "an epoch has at least min_steps_per_epoch (10) steps"
    assert schedule.steps == 100 and schedule.warmup_steps == 10
    assert schedule.samples_per_step == pytest.approx(960)


def test_lab_values_hold_where_the_data_is_large_enough() -> None:
    schedule = fit_schedule(LAB_PHASE2, samples=1_000_000, packs=250_000, world_size=8)
    assert schedule.effective_batch == 3840 and schedule.warmup_steps == 25
    assert schedule.accumulation == 120 and schedule.samples_per_step == pytest.approx(3840)


@pytest.mark.parametrize("world_size", [1, 2, 4, 8])
def test_more_ranks_split_the_same_steps(world_size: int) -> None:
    settings = PhaseSettings(learning_rate=1e-5, effective_batch=64, epochs=3)
    one = fit_schedule(settings, samples=4000, packs=1000, world_size=1)
    many = fit_schedule(settings, samples=4000, packs=1000, world_size=world_size)
    assert many.accumulation * world_size == one.accumulation
    assert (many.steps, many.samples_per_step, many.warmup_steps) == (one.steps, one.samples_per_step, 18)


def test_max_steps_wins_and_warmup_is_capped_by_its_share() -> None:
    settings = PhaseSettings(learning_rate=1e-5, effective_batch=8, epochs=10, max_steps=12, max_warmup_share=0.25)
    schedule = fit_schedule(settings, samples=60, packs=13, world_size=2)
    assert schedule.steps == 12 and schedule.warmup_steps == 3


def test_adam_beta2_defaults_to_instructlab_training() -> None:
    assert TrainConfig().phase1.adam_beta2 == TrainConfig().phase2.adam_beta2 == 0.95
