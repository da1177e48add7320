"""Generation against a real open teacher: SmolLM2-135M behind llama.cpp's OpenAI-compatible server.

A 135M model writes weak text, so these assert what must hold for any model: its replies are read, every
candidate is accounted for, and every leaf kind gets pairs through the judge.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.generation.pipelines import LeafOutcome, Plan, generate_leaf
from bot.generation.teacher import Endpoint, ModelClient
from bot.taxonomy.tree import LeafKind, load_directory
from tests.conftest import write_tree
from tests.leaves import freeform_skill, grounded_skill, knowledge

LAKE_DOCUMENT = (
    "Lake Tanager lies in a mountain valley. It has seven islands and three bays.\n\n"
    "The lake freezes every winter, and its ice is thick enough to walk on by January."
)


def test_a_fault_repeated_on_every_request_is_one_note_with_a_count() -> None:
    outcome = LeafOutcome("a/qna.yaml", LeafKind.FREEFORM_SKILL)
    for _ in range(40):
        outcome.note("generation request: no answer after 5 tries: HTTP 503")
    outcome.note("judge request: HTTP 400")
    assert outcome.notes == [
        "generation request: no answer after 5 tries: HTTP 503 (40 times)",
        "judge request: HTTP 400",
    ]


@pytest.mark.real_model
@pytest.mark.slow
def test_every_leaf_kind_gets_judged_pairs_from_a_real_teacher(smollm2_teacher: str, tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "compositional_skills/arithmetic/qna.yaml": freeform_skill(),
            "compositional_skills/grounded/sales/qna.yaml": grounded_skill(),
            "knowledge/geography/lakes/qna.yaml": knowledge(),
        },
    )
    leaves = list(load_directory(tmp_path).leaves.values())
    # Small budgets and one round: a few requests per leaf, seconds each on a CPU.
    endpoint = Endpoint(smollm2_teacher, "smollm2", max_tokens=300, concurrency=1, retries=1, timeout_s=300)
    plan = Plan(target=2, per_call=3, judge_batch=3, max_rounds=1)
    client = ModelClient(endpoint)

    async def run() -> list[LeafOutcome]:
        await client.probe()
        return [await generate_leaf(leaf, client, plan, [LAKE_DOCUMENT] if "knowledge" in leaf.path else [])
                for leaf in leaves]  # fmt: skip

    outcomes = asyncio.run(run())
    # llama.cpp refuses OpenAI's json_schema and takes its own json_object with a schema: a grammar.
    assert client.output_mode == "json_object"
    # Every reply was read; one the grammar let run past max_tokens is not a misreading but a cut, reshaped.
    assert client.stats.parse_failures <= client.stats.cut_replies and client.stats.failures == 0
    for outcome in outcomes:
        assert outcome.failed_requests == 0, outcome.notes
        assert outcome.candidates > 0, outcome.path
        assert outcome.candidates == len(outcome.kept) + sum(outcome.dropped.values())
        assert outcome.judged > 0, (outcome.path, outcome.dropped)
    assert client.stats.prompt_tokens > 0 and client.stats.completion_tokens > 0
