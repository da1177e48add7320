"""SmolLM2-135M-Instruct, a real pretrained student: both phases on CPU, then the gate against the base model."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.release.gate import CHANGED, GateQuestion, GateSettings, run_gate
from tests.fakes.phase_sets import write_jsonl
from trainer.answer import LocalAnswerer
from trainer.config import load_config
from trainer.run import run_training

TINY_CPU = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "tiny_cpu.yaml"
LEAF = "compositional_skills/games/passwords/qna.yaml"
# A made-up skill: the base model cannot know these answers, a student trained on the seeds can.
SEEDS = [
    (f"What is the password of the {place}?", f"The password of the {place} is {word} {number}.")
    for place, word, number in [
        ("lighthouse", "amber", "seven"), ("mill", "cobalt", "two"), ("harbour", "juniper", "nine"),
        ("quarry", "saffron", "four"), ("orchard", "indigo", "six"),
    ]
]  # fmt: skip
DOCUMENT = "Every building in the valley has a password, written on a brass plate by its door. " + " ".join(
    answer for _, answer in SEEDS
)


def _chat(question: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


@pytest.mark.slow
@pytest.mark.real_model
def test_a_candidate_trained_on_the_seeds_beats_the_base_model_on_them(smollm2_model: Path, tmp_path: Path) -> None:
    knowledge = [
        {"id": f"k{i}", "messages": _chat(f"{DOCUMENT}\n\n{q}", a), "metadata": {}, "unmask": True}
        for i, (q, a) in enumerate(SEEDS)
    ]
    skills = [
        {"id": f"s{r}-{i}", "messages": _chat(q, a), "metadata": {}, "unmask": False}
        for r in range(4)
        for i, (q, a) in enumerate(SEEDS)
    ]
    overrides = [
        f"model.name_or_path={smollm2_model}",
        f"data.phase1={write_jsonl(tmp_path / 'knowledge.jsonl', knowledge)}",
        f"data.phase2={write_jsonl(tmp_path / 'skills.jsonl', skills)}",
        f"run.output_dir={tmp_path / 'runs'}",
        "data.max_length=192", "data.pack_tokens=256", "data.replay_fraction=0.0",
        "phase1.max_steps=1", "phase1.learning_rate=1e-4", "phase1.effective_batch=2",
        "phase2.max_steps=4", "phase2.learning_rate=3e-4", "phase2.effective_batch=6",
    ]  # fmt: skip
    outcome = run_training(load_config(TINY_CPU, overrides), interactive=False)
    assert outcome.finished and outcome.final_dir is not None

    questions = [GateQuestion(CHANGED, LEAF, question, answer) for question, answer in SEEDS]
    settings = GateSettings(max_new_tokens=16)
    report = run_gate(
        questions,
        LocalAnswerer(str(smollm2_model), max_new_tokens=16),
        LocalAnswerer(str(outcome.final_dir), max_new_tokens=16),
        settings,
    )
    [changed] = [group for group in report.groups if group.name == CHANGED]
    assert changed.candidate > changed.previous + settings.min_gain, report
    assert report.passed, report.checks
