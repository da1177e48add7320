"""Degenerate answers a score can miss: one answer for many questions, answers collapsing in length, loops."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

SAME_ANSWER_MIN = 3  # this many different questions with one answer is a pattern, not chance
SAME_ANSWER_SHARE = 0.15  # ... when they are also this share of the questions, and this many more than before:
SAME_ANSWER_MORE = 0.1  # a weak previous model repeats itself too; the rule is for a new collapse
COLLAPSE_RATIO = 0.5  # a median answer under half the previous one's, and under half the references'
LOOP_MIN_WORDS = 10
LOOP_DISTINCT = 0.5  # fewer distinct word 3-grams than this share of them: the answer goes round in circles


@dataclass(frozen=True)
class Asked:
    """One open question's reference and the two models' answers to it."""

    reference: str
    previous: str
    candidate: str


def words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.casefold()).split()


def _same_answer(answers: Sequence[str], references: Sequence[str]) -> tuple[int, str]:
    """The most questions with different references that got one answer, and that answer."""
    by_answer: dict[str, set[str]] = {}
    for answer, reference in zip(answers, references, strict=True):
        key = " ".join(words(answer))
        if key:
            by_answer.setdefault(key, set()).add(" ".join(words(reference)))
    if not by_answer:
        return 0, ""
    answer, refs = max(by_answer.items(), key=lambda item: len(item[1]))
    return len(refs), answer


def is_loop(answer: str) -> bool:
    """An answer that repeats itself: few distinct word 3-grams among many."""
    tokens = words(answer)
    if len(tokens) < LOOP_MIN_WORDS:
        return False
    grams = list(zip(tokens, tokens[1:], tokens[2:], strict=False))
    return len(set(grams)) < LOOP_DISTINCT * len(grams)


def degenerate(asked: Sequence[Asked]) -> list[str]:
    """What is degenerate in the candidate's answers and was not in the previous model's; empty when nothing."""
    if not asked:
        return []
    problems = []
    references = [a.reference for a in asked]
    same, answer = _same_answer([a.candidate for a in asked], references)
    before, _ = _same_answer([a.previous for a in asked], references)
    if same >= max(SAME_ANSWER_MIN, SAME_ANSWER_SHARE * len(asked)) and same > before + SAME_ANSWER_MORE * len(asked):
        shown = answer if len(answer) <= 60 else answer[:59] + "…"
        problems.append(f'the same answer to {same} different questions ("{shown}"; the previous model: {before})')
    lengths = {name: median(len(words(getattr(a, name))) for a in asked) for name in Asked.__dataclass_fields__}
    if lengths["candidate"] < COLLAPSE_RATIO * min(lengths["previous"], lengths["reference"]):
        problems.append(
            f"answers collapsed in length: {lengths['candidate']:g} words at the median against "
            f"{lengths['previous']:g} before and {lengths['reference']:g} in the references"
        )
    loops = Counter(is_loop(a.candidate) for a in asked)[True]
    loops_before = Counter(is_loop(a.previous) for a in asked)[True]
    if loops > loops_before and loops >= max(2, 0.05 * len(asked)):
        problems.append(f"{loops} answers repeat themselves in a loop (the previous model: {loops_before})")
    return problems
