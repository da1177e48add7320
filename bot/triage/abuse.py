"""Hate, abuse and profanity: alt-profanity-check's classifier (its model ships in the package) on each
sentence of the seeds. A warning with the sentence, for a person to judge; never a block."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from bot.triage.hits import Check, Hit, Level
from bot.triage.imports import without
from bot.triage.texts import Text

ABUSE_THRESHOLD = 0.96  # the classifier's probability; insults score above 0.99
# A word alone ("Fool" in a list of rhymes, "hate" as the odd one out) is a word being taught, not abuse.
MIN_WORDS = 3
WINDOWS = (6, 12)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
# The classifier lowercases every word, so "the two sons are Dick and Hardy" reads as a slur. A capitalised
# word that stands with another capitalised word ("Moby Dick", "Tom, Dick and Harry") is a name and is left
# out of what it scores, unless it follows a word an insult follows ("you Moron", "a Jerk"). A capitalised
# word alone ("The answer, Idiot, is four.") is scored. The sentence quoted to the triager keeps every word.
_NAME = re.compile(r"[A-Z][a-z]+(?:'s)?[.,;:!?)\"']*")
_BEFORE_INSULT = {"you", "your", "a", "an", "such"}
_JOINS = {"and", "or", "&"}


def sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) for each sentence or line of `text` of at least MIN_WORDS words."""
    found = ((m.start(), m.group().strip()) for m in _SENTENCE.finditer(text))
    return [(offset, sentence) for offset, sentence in found if len(re.findall(r"\w+", sentence)) >= MIN_WORDS]


def _is_scored(words: list[str]) -> list[bool]:
    """Which words of a sentence the classifier sees: all but the names (see _NAME)."""
    capital = [_NAME.fullmatch(word) is not None for word in words]

    def beside_a_capital(i: int) -> bool:
        # A neighbour, or a word across "and"/"or"; the sentence's first word is capitalised by grammar, so
        # only a join makes it a name's partner ("Dick and Hardy are ...").
        near = [j for j in (i - 1, i + 1) if 0 < j < len(words)]
        near += [j for j, join in ((i - 2, i - 1), (i + 2, i + 1)) if 0 <= j < len(words) and words[join] in _JOINS]
        return any(capital[j] for j in near)

    def before(i: int) -> str:
        return words[i - 1].lower().strip(",;:\"'(") if i > 0 else ""

    return [not (capital[i] and beside_a_capital(i)) or before(i) in _BEFORE_INSULT for i in range(len(words))]


def windows(sentence: str) -> list[tuple[str, str]]:
    """(what is shown, what is scored) for the sentence and, when it is long, overlapping runs of words of
    each WINDOWS size: the classifier weighs words against the whole text, so an insult tacked onto a line
    without a full stop is diluted."""
    words = sentence.split()
    scored = _is_scored(words)
    runs = [(0, len(words))]
    for size in WINDOWS:
        if len(words) > size:
            runs += [(i, i + size) for i in range(0, len(words) - size // 2, size // 2)]
    return [(" ".join(words[a:b]), " ".join(w for w, keep in zip(words[a:b], scored[a:b], strict=True) if keep))
            for a, b in runs]  # fmt: skip


@functools.cache
def _classifier() -> Any:
    """alt-profanity-check's model, read once a process and only when there is a sentence to score."""
    with without("pandas"):  # scikit-learn's optional pandas support
        from profanity_check import profanity_check

    return profanity_check


def abuse_scores(items: Sequence[str]) -> list[float]:
    """The classifier's probability of each text being offensive; the model is loaded only when there is text."""
    if not items:
        return []
    return [float(p) for p in _classifier().predict_prob(list(items))]


def abuse(texts: Iterable[Text], threshold: float = ABUSE_THRESHOLD) -> list[Hit]:
    """The sentences the classifier calls offensive (in whole or in a run of words), each with its probability.
    All texts go to the classifier in one call, so a review of many leaves pays its overhead once."""
    places = [(text, offset, sentence) for text in texts for offset, sentence in sentences(text.text)]
    units = [(i, shown, scored) for i, (_, _, sentence) in enumerate(places) for shown, scored in windows(sentence)]
    best: dict[int, tuple[float, str]] = {}
    for (i, shown, _), score in zip(units, abuse_scores([scored for *_, scored in units]), strict=True):
        if score >= threshold and score > best.get(i, (0.0, ""))[0]:
            best[i] = (score, shown)
    hits = []
    for i, (score, shown) in sorted(best.items()):
        text, offset, _ = places[i]
        hits.append(Hit(Check.ABUSE, text.path, text.line_of(offset), Level.WARNING,
                        f"offensive language in the {text.origin}: \"{shown[:200]}\"",
                        f"alt-profanity-check {score:.2f}"))  # fmt: skip
    return hits
