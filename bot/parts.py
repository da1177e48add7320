"""The optional parts of a review, built from config and environment: teacher samples and what else is installed."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from bot.config import Config
from bot.diff import ChangeSet
from bot.generate import sample_plan
from bot.review import Part, PartResult, Sample
from bot.sdg import generate_leaf
from bot.taxonomy import Leaf
from bot.teacher import Endpoint, ModelClient, endpoint_from

DEFAULT_SAMPLES = 3


def samples_part(endpoint: Endpoint, count: int) -> Part:
    """A few judged sample pairs per changed leaf, so reviewers see whether the seeds teach what they mean."""

    def run(change_set: ChangeSet, leaves: dict[str, Leaf]) -> PartResult:
        async def all_leaves() -> PartResult:
            client = ModelClient(endpoint)
            outcomes = await asyncio.gather(
                *(generate_leaf(leaf, client, sample_plan(count)) for leaf in leaves.values())
            )
            result = PartResult(data=[])
            for outcome in outcomes:
                result.data += [  # type: ignore[operator]
                    Sample(outcome.path, k.candidate.question, k.candidate.answer, k.score, k.candidate.context)
                    for k in outcome.kept
                ]
                if outcome.notes:
                    result.notes.append(
                        f"{outcome.path}: {len(outcome.notes)} teacher request(s) failed: {outcome.notes[0]}"
                    )
            return result

        return asyncio.run(all_leaves())

    return run


def review_parts(config: Config, env: Mapping[str, str], *, teacher: bool) -> tuple[dict[str, Part], list[str]]:
    """The parts to run, and notes on the ones left out (so the review says what it did not check)."""
    parts: dict[str, Part] = {}
    notes: list[str] = []
    if teacher:
        endpoint = endpoint_from(config.section("teacher"), env, "TAXBOT_TEACHER")
        if endpoint is None:
            notes.append("no teacher is configured, so no sample pairs (set TAXBOT_TEACHER_URL and _MODEL)")
        else:
            count = config.section("generate").get("review_samples", DEFAULT_SAMPLES)
            parts["samples"] = samples_part(endpoint, int(count) if isinstance(count, int) else DEFAULT_SAMPLES)
    else:
        notes.append("sample pairs come from the trusted run that can reach the teacher")
    return parts, notes
