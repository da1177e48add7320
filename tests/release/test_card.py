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


def test_a_local_base_model_stays_out_of_the_front_matter() -> None:
    card = ModelCard(model_card(facts(base_model="/runner/models/base"), ReleaseSettings("org/model", "/runner/base")))
    assert card.data.base_model is None
    assert "tuned from `/runner/models/base`" in card.text
