"""The model card: front matter the Hub reads (base model, licence, datasets, tags) and the release notes."""

from __future__ import annotations

import re

from huggingface_hub import ModelCardData

from bot.release.notes import ReleaseFacts, release_notes
from bot.release.settings import ReleaseSettings

TAGS = ("taxbot", "instructlab", "lab", "synthetic-data")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def model_card(facts: ReleaseFacts, settings: ReleaseSettings) -> str:
    """README.md for the model repository; its images are files next to it."""
    # A local base model (a folder on the runner) is no Hub id: the Hub would reject it as `base_model`.
    base = settings.base_model if _HUB_ID.match(settings.base_model) else None
    data = ModelCardData(
        base_model=base,
        license=settings.license,
        datasets=list(settings.datasets) or None,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=[*TAGS, *settings.card_tags],
    )
    name = facts.hub_repo.split("/")[-1]
    intro = (
        f"A model tuned on the community taxonomy at commit `{facts.taxonomy_commit}` with the LAB method: "
        "a teacher model writes synthetic data from each leaf's seed examples, and the student learns knowledge "
        "first, then skills. This card is written by taxbot for every release."
    )
    return f"---\n{data.to_yaml()}\n---\n\n# {name} {facts.tag}\n\n{intro}\n\n{release_notes(facts)}"
