"""A local checkpoint answers the gate's questions with transformers generate."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="needs the `train` extra")
pytest.importorskip("transformers", reason="needs the `train` extra")

from tests.fakes.tiny_model import build_tiny_model
from trainer.answer import LocalAnswerer
from trainer.errors import TrainerError


def test_a_local_model_answers_every_prompt_the_same_way_twice(tmp_path: Path) -> None:
    model = LocalAnswerer(str(build_tiny_model(tmp_path / "tiny")), max_new_tokens=6, batch_size=2)
    prompts = ["baba bebe ?", "dada , fufu ?", "kiki ."]
    first = model.answer(prompts)
    assert len(first) == 3 and all(first)
    assert all(len(answer.split()) <= 6 for answer in first)
    assert model.answer(prompts) == first  # greedy: a gate rerun sees the same answers


def test_a_missing_model_names_itself(tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match=f"cannot load the model {tmp_path / 'nothing'} to answer the gate"):
        LocalAnswerer(str(tmp_path / "nothing")).answer(["q"])


def test_with_real_models_a_candidate_that_is_the_previous_model_does_not_pass(tmp_path: Path) -> None:
    from bot.release.gate import CHANGED, GateQuestion, GateSettings, run_gate

    model = LocalAnswerer(str(build_tiny_model(tmp_path / "tiny")), max_new_tokens=6)
    questions = [GateQuestion(CHANGED, "leaf", f"baba bebe {word} ?", f"dada {word} .") for word in ("bibi", "bobo")]
    report = run_gate(questions, model, model, GateSettings())
    assert not report.passed
    assert report.checks[0].detail.endswith("(+0.000, needs +0.020)")
