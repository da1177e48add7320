"""A scripted teacher that follows taxbot's prompt formats, for tests of generation and precheck."""

from __future__ import annotations

import itertools
import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

_WORDS = tuple(
    [
        "harbour",
        "violin",
        "glacier",
        "pepper",
        "lantern",
        "meadow",
        "engine",
        "falcon",
        "quartz",
        "orchard",
        "compass",
        "thimble",
        "volcano",
        "saddle",
        "bishop",
        "ribbon",
        "tundra",
        "canyon",
        "walnut",
        "beacon",
        "marble",
        "spindle",
        "lagoon",
        "copper",
        "juniper",
        "kettle",
        "mosaic",
        "nebula",
        "paddock",
        "quiver",
        "rafter",
        "sorrel",
        "trellis",
        "umber",
        "vellum",
        "wicket",
        "yarrow",
        "zephyr",
        "anvil",
        "bramble",
    ]
)


@dataclass
class LabTeacher:
    """Answers taxbot's generate and judge prompts with valid JSON; knobs make it misbehave on purpose.

    - questions it writes are numbered, so they never repeat unless `repeat_questions` is set;
    - `low_scores` items (by substring of the question) are judged 1;
    - `prose_first` replies wrap the JSON in chatter and a ``` fence, as real models do;
    - `answer_words` pads every answer with that many words (long replies, to be cut at max_tokens);
    - `unfaithful` items (by substring of the question) are judged unfaithful to their grounding text;
    - `broken_item_every` n-th item it writes has no answer (one bad item among good siblings).
    """

    low_scores: tuple[str, ...] = ()
    repeat_questions: bool = False
    prose_first: bool = False
    answer_words: int = 0
    unfaithful: tuple[str, ...] = ()
    broken_item_every: int = 0
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def __call__(self, request: dict[str, Any]) -> str | list[str]:
        """A reply, or as a real server samples them, `n` different ones when the request asks `n` choices."""
        n = int(request.get("n") or 1)
        return self._reply(request) if n == 1 else [self._reply(request) for _ in range(n)]

    def _reply(self, request: dict[str, Any]) -> str:
        system = request["messages"][0]["content"]
        if not system.startswith("taxbot:"):  # the client's probe, or a plain chat
            return '{"ok": true}'
        data = json.loads(request["messages"][1]["content"])
        task = system.split(" ", 1)[0].removeprefix("taxbot:")
        count = int(m.group(1)) if (m := re.search(r"write (\d+) ", system, re.IGNORECASE)) else 1
        if task == "judge":
            reply: dict[str, Any] = {"scores": [
                {"index": item["index"], "reason": "scripted",
                 "faithful": not any(s in item["question"] for s in self.unfaithful), "relevant": True,
                 "standalone": True, "score": 1 if any(s in item["question"] for s in self.low_scores) else 3}
                for item in data["items"]
            ]}  # fmt: skip
        elif task == "grounded":
            reply = {"items": [self._pair(data["task"], with_context=True) for _ in range(count)]}
        elif task == "knowledge":
            reply = {"pairs": [self._pair(data["document_chunk"][:40]) for _ in range(count)]}
        elif task == "precheck":
            reply = {"answer": data.get("question", "")}
        else:
            reply = {"pairs": [self._pair(data["task"]) for _ in range(count)]}
        text = json.dumps(reply)
        return f"Here you are:\n```json\n{text}\n```\nHope this helps!" if self.prose_first else text

    def _pair(self, topic: str, with_context: bool = False) -> dict[str, str]:
        n = 1 if self.repeat_questions else next(self.counter)
        words = random.Random(n).sample(_WORDS, 6)  # seeded: the same n always writes the same pair
        first, second = words[:2]
        question = f"{' '.join(words)} ({topic[:12]})?"
        padding = " and".join([""] * (self.answer_words + 1))
        pair = {"question": question, "answer": f"Because {first}s and {second}s go together ({n}){padding}."}
        if self.broken_item_every and n % self.broken_item_every == 0:
            del pair["answer"]
        if with_context:
            pair = {"context": f"A new note, number {n}, for {topic}.", **pair}
        return pair
