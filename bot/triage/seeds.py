"""Seed quality: examples that repeat each other, reasoning answered with a bare result, one conversation
split into examples, and answers far shorter than their question asks."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from bot.similar.duplicates import MatchKind, find_duplicates
from bot.similar.seedindex import Thresholds, Tokenizer, build_index
from bot.taxonomy.tree import Leaf, SeedExample
from bot.triage.hits import Check, Hit, Level

# Looser than `similar`'s near-duplicates (which it reports already): seeds that say the same thing in
# other words teach the model less than their count suggests.
REPEAT_THRESHOLDS = Thresholds(question=80.0, answer=85.0, context=80.0)

_REASONING = re.compile(
    r"\b(?:how (?:many|much|long|far|old)|calculate|compute|solve|work out|find the (?:value|total|number|sum)"
    r"|what is the (?:total|sum|difference|product|probability|average|remainder)|step[- ]by[- ]step"
    r"|show your (?:work|reasoning)|explain (?:why|how) you)\b",
    re.IGNORECASE,
)
_STEP_WORDS = re.compile(r"\b(?:because|so|therefore|then|first|since|which|gives|=|means|thus)\b|[=+\-*/×÷]")
_FOLLOW_UP = re.compile(
    r"^(?:and|also|now|then|ok|okay|what about|how about|can you also|continue|go on|and then)\b"
    r"|\b(?:your (?:last|previous) (?:answer|reply|response)|the previous (?:answer|question|one)"
    r"|you (?:just )?(?:said|wrote|mentioned)|as (?:you|I) said|the above (?:answer|text|list))\b",
    re.IGNORECASE,
)
_NUMBERS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10}
_ASKED = re.compile(
    r"\b(?:write|give|list|name|suggest|generate|create|compose|in|using)\s+(?:me\s+)?(?:at least\s+|exactly\s+)?"
    r"(\d{1,3}|two|three|four|five|six|seven|eight|nine|ten)\s+(?:\w+\s+)?"
    r"(paragraphs|sentences|bullet points|bullets|items|examples|lines|steps|reasons|ways|tips|words)\b",
    re.IGNORECASE,
)
_LONG_FORM = re.compile(r"\b(?:write|compose|draft) (?:an? )?(?:essay|story|article|blog post|letter|report)\b",
                        re.IGNORECASE)  # fmt: skip
LONG_FORM_MIN_WORDS = 60


def repeated_seeds(leaves: Sequence[Leaf]) -> list[Hit]:
    """Pairs of seeds in one leaf that are alike but below the near-duplicate thresholds `similar` reports.
    The leaves are searched together, once; pairs across leaves are `similar`'s to report, not these."""
    strict = Thresholds()
    matches = find_duplicates(build_index(REPEAT_THRESHOLDS, Tokenizer(), []), leaves) if leaves else []
    hits = []
    for match in matches:
        # A shared template ("What is a synonym for X?") is fine; the same question *and* answer is not.
        if match.changed.path != match.other.path or match.kind not in (MatchKind.QNA, MatchKind.ANSWER):
            continue
        if match.score >= strict.of("answer" if match.kind is MatchKind.ANSWER else "question"):
            continue
        hits.append(Hit(Check.NEAR_DUPLICATE, match.changed.path, match.changed.line, Level.WARNING,
                        f"this seed's {'answer' if match.kind is MatchKind.ANSWER else 'question'} says much "
                        f"the same as line {match.other.line} ({match.score:g}% alike): vary the examples",
                        "similar"))  # fmt: skip
    return hits


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))


def bare_answer(seed: SeedExample) -> bool:
    """A question that asks for reasoning answered with a result alone: a few words, no step. Seeds with a
    context are left out: "How many days' notice?" answered from a lease is extraction, not reasoning."""
    if seed.context is not None or not _REASONING.search(seed.question):
        return False
    return _words(seed.answer) <= 6 and not _STEP_WORDS.search(seed.answer)


def _answer_counts(answer: str) -> dict[str, int]:
    lines = [line for line in answer.splitlines() if line.strip()]
    items = [line for line in lines if re.match(r"\s*(?:[-*•]|\d+[.)])\s+", line)]
    return {
        "paragraphs": len([p for p in re.split(r"\n\s*\n", answer) if p.strip()]),
        "sentences": len(re.findall(r"[^.!?]+[.!?]", answer)) or (1 if answer.strip() else 0),
        "items": len(items) or len(lines),
        "lines": len(lines),
        "words": _words(answer),
    }


def short_answer(seed: SeedExample) -> str | None:
    """What the question asked for that the answer falls far short of, or None."""
    counts = _answer_counts(seed.answer)
    for match in _ASKED.finditer(seed.question):
        number = match.group(1).lower()
        asked = int(number) if number.isdigit() else _NUMBERS[number]
        unit = match.group(2).lower()
        key = {"bullet points": "items", "bullets": "items", "examples": "items", "steps": "items",
               "reasons": "items", "ways": "items", "tips": "items"}.get(unit, unit)  # fmt: skip
        have = counts[key]
        if have < (asked * 0.5 if key == "words" else asked):
            return f"the question asks for {asked} {unit}, the answer has {have}"
    if _LONG_FORM.search(seed.question) and counts["words"] < LONG_FORM_MIN_WORDS:
        return f"the question asks for a piece of writing, the answer has {counts['words']} words"
    return None


def seed_quality(leaves: Sequence[Leaf], checks: Collection[Check]) -> list[Hit]:
    """The weak seeds of each leaf, for the checks that are on."""
    hits = repeated_seeds(leaves) if Check.NEAR_DUPLICATE in checks else []
    for leaf in leaves:
        hits += _weak_seeds(leaf, checks)
    return hits


def _weak_seeds(leaf: Leaf, checks: Collection[Check]) -> list[Hit]:
    hits = []
    for i, seed in enumerate(leaf.seed_examples):
        if Check.BARE_ANSWER in checks and bare_answer(seed):
            hits.append(Hit(Check.BARE_ANSWER, leaf.path, seed.answer_line, Level.WARNING,
                            f"the question asks for reasoning, the answer gives only a result "
                            f"(\"{seed.answer[:60]}\"): show the steps", "signals"))  # fmt: skip
        if Check.SPLIT_CONVERSATION in checks and i and (match := _FOLLOW_UP.search(seed.question)):
            hits.append(Hit(Check.SPLIT_CONVERSATION, leaf.path, seed.question_line, Level.WARNING,
                            f"the question follows on from an earlier turn (\"{match.group()}\"): each seed example "
                            "must stand alone", "signals"))  # fmt: skip
        if Check.SHORT_ANSWER in checks and (short := short_answer(seed)):
            hits.append(Hit(Check.SHORT_ANSWER, leaf.path, seed.answer_line, Level.WARNING, short, "signals"))
    return hits
