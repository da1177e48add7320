"""Synthetic phase sets in the InstructLab training format, shaped like real SDG output.

Knowledge records (phase 1) carry a document excerpt and a question, are `unmask: true` and run
long; skill records (phase 2) are shorter, sometimes two exchanges, loss on the answers only.
Lengths are log-normal with a tail past the length limit, as real sets have. Words follow a Zipf
law over a fixed vocabulary, so a tiny model's loss visibly falls while it learns them.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
WORDS: tuple[str, ...] = (*[a + b for a in _SYLLABLES for b in _SYLLABLES][:300], ".", "?", ",")
_WEIGHTS = [1.0 / (rank + 1) for rank in range(len(WORDS))]
SYSTEM_PROMPT = " ".join(WORDS[i] for i in (5, 17, 42, 3, 99, 250)) + " ."


def _words(rng: random.Random, count: int) -> str:
    return " ".join(rng.choices(WORDS, weights=_WEIGHTS, k=max(1, count)))


def _length(rng: random.Random, max_words: int, median_share: float) -> int:
    """Log-normal record length; a few percent land past max_words, as in real sets."""
    length = rng.lognormvariate(math.log(max_words * median_share), 0.55)
    return int(min(max(length, 6), max_words * 1.25))


def knowledge_records(count: int, *, max_words: int, seed: int = 0) -> list[dict[str, Any]]:
    """Phase-1 style: system prompt, document excerpt plus question, answer; `unmask: true`."""
    rng = random.Random(seed)
    records = []
    for index in range(count):
        total = _length(rng, max_words, 0.45)
        answer = max(2, total // 4)
        records.append(
            {
                "id": f"knowledge-{index}",
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": _words(rng, total - answer - 8)},
                    {"role": "assistant", "content": _words(rng, answer)},
                ],
                "metadata": {"dataset": "document_knowledge_qa", "leaf": "knowledge/science/astronomy"},
                "unmask": True,
            }
        )
    return records


def skill_records(count: int, *, max_words: int, seed: int = 1) -> list[dict[str, Any]]:
    """Phase-2 style: system prompt and one or two question/answer exchanges; loss on answers only."""
    rng = random.Random(seed)
    records = []
    for index in range(count):
        total = _length(rng, max_words, 0.25)
        exchanges = 2 if rng.random() < 0.3 else 1
        messages = [{"role": "system", "content": SYSTEM_PROMPT}]
        for _ in range(exchanges):
            share = max(4, (total - 8) // exchanges)
            messages.append({"role": "user", "content": _words(rng, share // 3)})
            messages.append({"role": "assistant", "content": _words(rng, share - share // 3)})
        records.append(
            {
                "id": f"skill-{index}",
                "messages": messages,
                "metadata": {"dataset": "skills_freeform", "leaf": "compositional_skills/writing"},
                "unmask": False,
            }
        )
    return records


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    """Write records one JSON object per line, as SDG does."""
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path
