"""The model card: front matter the Hub reads back, and the release's notes below it."""

from __future__ import annotations

import pytest

pytest.importorskip("huggingface_hub", reason="needs the `train` extra")

from huggingface_hub import ModelCard

from bot.release.card import model_card
from bot.release.settings import ReleaseSettings
from tests.release.test_notes import facts


def test_front_matter_has_base_model_licence_datasets_and_tags() -> None:
    settings = ReleaseSettings("org/model", "ibm-granite/granite-7b-base", datasets=("org/taxonomy-data",),
                               card_tags=("granite",))  # fmt: skip
    card = ModelCard(model_card(facts(), settings))
    assert card.data.base_model == "ibm-granite/granite-7b-base"
    assert card.data.license == "apache-2.0"
    assert card.data.datasets == ["org/taxonomy-data"]
    assert card.data.tags == ["taxbot", "instructlab", "lab", "synthetic-data", "granite"]
    assert card.data.pipeline_tag == "text-generation"
    assert card.text.lstrip().startswith("# model v20250131-0123456")
    assert "### Gate" in card.text and "![Training loss of both phases](loss_curves.png)" in card.text


def test_the_card_says_what_the_model_is_for_how_to_run_it_how_it_was_judged_and_where_its_data_came_from() -> None:
    settings = ReleaseSettings("org/model", "ibm-granite/granite-7b-base")
    text = ModelCard(model_card(facts(), settings, {"teacher": "mixtral", "phase1_records": 40})).text
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings == ["## Intended use", "## Limitations", "## How to run it", "## How it was evaluated",
                        "## Data provenance", "## Release notes"]  # fmt: skip
    assert 'AutoModelForCausalLM.from_pretrained("org/model", revision="v20250131-0123456")' in text
    assert "No judge was configured: answers were scored by rouge_l word overlap" in text
    assert "safety set" in text and "MMLU-Branch" in text
    assert "written by the teacher model `mixtral`" in text and "40 for knowledge (phase 1)" in text
    assert "| safety set | 16 | 0.800 | 0.820 | +0.020 |" in text  # the safety results, from the gate


def test_a_local_base_model_is_named_by_the_hub_id_it_stands_for() -> None:
    unnamed = ModelCard(model_card(facts(), ReleaseSettings("org/model", "/runner/base")))
    assert unnamed.data.base_model is None  # the Hub rejects a path as base_model
    named = ModelCard(model_card(facts(), ReleaseSettings("org/model", "/runner/base", "HuggingFaceTB/SmolLM2")))
    assert named.data.base_model == "HuggingFaceTB/SmolLM2"
    assert "/runner" not in str(named)
