"""Answers that read as written by a chat model: the marks such text leaves, no model needed.

Each signal is evidence for a triager, never proof; the teacher's opinion (bot.triage.judge) is added where
one is configured. The marks are phrases chat models write and people writing a seed example do not: a
refusal or a self-description, a reply to a prompt rather than an answer ("Certainly! Here is ..."), an
offer to help further, and the assistant's stock framing ("It's important to note", "I hope this helps").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.triage.hits import Check, Hit, Level
from bot.triage.texts import Origin, Text

SIGNALS: dict[str, re.Pattern[str]] = {
    name: re.compile(pattern, re.IGNORECASE)
    for name, pattern in {
        "describes itself as an AI": r"\bas an? (?:AI|artificial intelligence|large language model|language model)\b"
        r"|\bI(?:'m| am) (?:just )?an? (?:AI|language model)\b|\bmy (?:training data|knowledge cutoff)\b",
        "answers the prompt, not the question": r"^(?:certainly|sure|absolutely|of course)[!,.]\s+(?:here|below|I)\b"
        r"|^(?:great|good|excellent) question\b|^here(?:'s| is) (?:a|an|the|your) \w+(?: \w+)? (?:of|for|that|to)\b",
        "offers more help": r"\b(?:let me know|feel free to ask|don't hesitate to (?:ask|reach out))\b"
        r"|\bI hope (?:this|that) helps\b|\bhappy to help\b|\bif you have any (?:other|more|further) questions\b",
        "stock framing": r"\bit(?:'s| is) (?:important|worth|crucial) (?:to note|noting|to remember)\b"
        r"|\b(?:delve|delves|delving) into\b|\bin today's (?:fast-paced|digital|ever-changing)\b"
        r"|\ba testament to\b|\bthe (?:rich )?tapestry of\b",
        "refuses": r"\bI (?:cannot|can't|am unable to|'m unable to) (?:provide|assist|help|fulfil|fulfill|answer)\b"
        r"|\bI (?:don't|do not) have (?:access to|personal|real-time)\b",
    }.items()
}  # fmt: skip


STRONG = ("describes itself as an AI", "refuses")


def machine_signals(text: str) -> list[str]:
    """The names of the signals found in one answer, each with the words that gave it away."""
    found = []
    for name, pattern in SIGNALS.items():
        for line in text.splitlines() or [text]:
            match = pattern.search(line.strip())
            if match:
                found.append(f'{name} ("{match.group()}")')
                break
    return found


def machine_written(texts: Iterable[Text]) -> list[Hit]:
    """Answers with marks of a chat model, each listed as evidence: a warning for a self-description or a
    refusal, or for two marks together; a note for one mark alone (an e-mail may well say "let me know")."""
    hits = []
    for text in texts:
        if text.origin is not Origin.ANSWER:
            continue
        signals = machine_signals(text.text)
        if signals:
            strong = len(signals) > 1 or signals[0].startswith(STRONG)
            message = f"the answer reads as written by a chat model: {'; '.join(signals)}"
            level = Level.WARNING if strong else Level.NOTE
            hits.append(Hit(Check.MACHINE_WRITTEN, text.path, text.line, level, message, "signals"))
    return hits
