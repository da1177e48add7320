"""Hate, abuse and profanity: alt-profanity-check's classifier (its model ships in the package) on each
sentence of the seeds. A warning with the sentence, for a person to judge; never a block."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from bot.triage.hits import Check, Hit, Level
from bot.triage.imports import without
from bot.triage.texts import Text

ABUSE_THRESHOLD = 0.96  # the classifier's probability; insults score above 0.99
# A word alone ("Fool" in a list of rhymes, "hate" as the odd one out) is a word being taught, not abuse.
MIN_WORDS = 3
WINDOWS = (6, 12)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) for each sentence or line of `text` of at least MIN_WORDS words."""
    found = ((m.start(), m.group().strip()) for m in _SENTENCE.finditer(text))
    return [(offset, sentence) for offset, sentence in found if len(re.findall(r"\w+", sentence)) >= MIN_WORDS]


def windows(sentence: str) -> list[str]:
    """The sentence, and when it is long, overlapping runs of words of each WINDOWS size: the classifier
    weighs words against the whole text, so an insult tacked onto a line without a full stop is diluted."""
    words = sentence.split()
    runs = [sentence]
    for size in WINDOWS:
        if len(words) > size:
            runs += [" ".join(words[i : i + size]) for i in range(0, len(words) - size // 2, size // 2)]
    return runs


def abuse_scores(items: Sequence[str]) -> list[float]:
    if not items:
        return []
    with without("pandas"):  # scikit-learn's optional pandas support; the classifier needs none of it
        from profanity_check import predict_prob  # loads a scikit-learn model: seconds, once, only here

    return [float(p) for p in predict_prob(list(items))]


def abuse(texts: Iterable[Text], threshold: float = ABUSE_THRESHOLD) -> list[Hit]:
    """The sentences the classifier calls offensive (in whole or in a run of words), each with its probability."""
    places = [(text, offset, sentence) for text in texts for offset, sentence in sentences(text.text)]
    units = [(i, unit) for i, (_, _, sentence) in enumerate(places) for unit in windows(sentence)]
    best: dict[int, tuple[float, str]] = {}
    for (i, unit), score in zip(units, abuse_scores([unit for _, unit in units]), strict=True):
        if score >= threshold and score > best.get(i, (0.0, ""))[0]:
            best[i] = (score, unit)
    hits = []
    for i, (score, unit) in sorted(best.items()):
        text, offset, _ = places[i]
        hits.append(Hit(Check.ABUSE, text.path, text.line_of(offset), Level.WARNING,
                        f"offensive language in the {text.origin}: \"{unit[:200]}\"",
                        f"alt-profanity-check {score:.2f}"))  # fmt: skip
    return hits
