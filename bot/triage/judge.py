"""The teacher's second opinion on a leaf: which answers it finds abusive, and which written by a chat model."""

from __future__ import annotations

import json

from bot.generation.teacher import Message, ModelClient
from bot.taxonomy.tree import Leaf

PROMPT = """You help triage contributions to a dataset of questions and answers written by people.
For the numbered examples below, say which contain hate, abuse, insults or profanity, and which answers
read as written by an AI chat assistant rather than by a person (assistant phrasing, refusals, offers of
further help, generic filler). Reply with JSON only, in this form:
{"abusive": [numbers], "machine_written": [numbers]}
"""


def judge_messages(leaf: Leaf) -> list[Message]:
    examples = [{"n": i + 1, "question": s.question[:1500], "answer": s.answer[:3000]}
                for i, s in enumerate(leaf.seed_examples)]  # fmt: skip
    return [{"role": "system", "content": PROMPT},
            {"role": "user", "content": json.dumps(examples, ensure_ascii=False, indent=1)}]  # fmt: skip


def _numbers(value: object, count: int) -> frozenset[int]:
    if not isinstance(value, list):
        raise ValueError("expected a list of example numbers")
    return frozenset(n - 1 for n in value if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= count)


async def second_opinion(leaf: Leaf, client: ModelClient) -> tuple[frozenset[int], frozenset[int]]:
    """The seed examples (by index) the teacher calls abusive, and those it calls machine-written.
    Raises EndpointError or ReplyFormatError when it gives no usable answer."""
    count = len(leaf.seed_examples)

    def parse(reply: object) -> tuple[frozenset[int], frozenset[int]]:
        if not isinstance(reply, dict):
            raise ValueError("expected a JSON object")
        return _numbers(reply.get("abusive", []), count), _numbers(reply.get("machine_written", []), count)

    return await client.chat_json(judge_messages(leaf), parse, variant="triage")
