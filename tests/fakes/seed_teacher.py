"""A scripted teacher whose data teaches the seeds' own answers, so a tiny student can pass the gate."""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.phase_sets import WORDS

_VOCABULARY = [word for word in WORDS if word.isalpha()]
_PHRASINGS = ("Tell me, {q}", "Quick question for you: {q}", "I was wondering about this. {q}",
              "Can you help me with something? {q}", "Here is something I need to know: {q}",
              "Please answer in one sentence. {q}", "My teacher asked me this today. {q}")  # fmt: skip


def random_words(question: str, n: int) -> str:
    """The question between words the tiny tokenizer knows: new enough to pass the duplicate filter."""
    first, second, third = random.Random(n).sample(_VOCABULARY, 3)
    return f"{first} {question.rstrip(' ?')} {second} {third} ?"


def plain_english(question: str, n: int) -> str:
    """The question in a new English frame, for a real pretrained student such as SmolLM2."""
    return _PHRASINGS[n % len(_PHRASINGS)].format(q=question)


@dataclass
class SeedTeacher:
    """Answers taxbot's generation prompts with each seed's question in a new frame (`phrase`: by default words
    the tiny tokenizer knows) and that seed's own answer, and judges every item 3. Tuned on this data, a student
    learns to answer the seed questions with the seed answers."""

    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    phrase: Callable[[str, int], str] = random_words

    def __call__(self, request: dict[str, Any]) -> str:
        system = request["messages"][0]["content"]
        if not system.startswith("taxbot:"):  # the client's probe, or a plain chat
            return '{"ok": true}'
        data = json.loads(request["messages"][1]["content"])
        task = system.split(" ", 1)[0].removeprefix("taxbot:")
        if task == "judge":
            return json.dumps(
                {"scores": [{"index": i["index"], "score": 3, "reason": "scripted"} for i in data["items"]]}
            )
        count = int(m.group(1)) if (m := re.search(r"write (\d+) ", system, re.IGNORECASE)) else 1
        seeds = data["seed_examples"]
        items = []
        for _ in range(count):
            n = next(self.counter)
            seed = seeds[n % len(seeds)]
            question = self.phrase(seed["question"], n)
            item = {"question": question, "answer": seed["answer"]}
            items.append({"context": seed.get("context", "-"), **item} if task == "grounded" else item)
        return json.dumps({"items": items} if task == "grounded" else {"pairs": items})
