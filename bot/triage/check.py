"""Triage of changed leaves: every check that is on, the teacher's opinion merged in, as findings and rows."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from bot.generation.teacher import Endpoint, EndpointError, ModelClient, ReplyFormatError
from bot.taxonomy.findings import Finding, Severity
from bot.taxonomy.tree import Leaf
from bot.triage.abuse import ABUSE_THRESHOLD, abuse
from bot.triage.hits import Check, Hit, Level
from bot.triage.judge import second_opinion
from bot.triage.machine import machine_written
from bot.triage.privacy import MIN_SCORE, personal_data, secrets
from bot.triage.seeds import seed_quality
from bot.triage.texts import Origin, Text, leaf_texts

SETTINGS = {"abuse_threshold": "the offensive-language classifier's probability from which a sentence is reported",
            "personal_data_min_score": "Presidio's score from which a value is reported"}  # fmt: skip


@dataclass(frozen=True)
class TriageSettings:
    checks: frozenset[Check] = frozenset(Check)
    abuse_threshold: float = ABUSE_THRESHOLD
    personal_data_min_score: float = MIN_SCORE


def triage_settings(section: Mapping[str, object], disabled: Collection[str] = ()) -> tuple[TriageSettings, list[str]]:
    """Settings from `.taxbot.yaml`'s `triage` section; checks are turned off by rule id in `lint.disable`."""
    problems = [f"unknown key `triage.{key}` is ignored; known: {', '.join(SETTINGS)}" for key in section
                if key not in SETTINGS]  # fmt: skip
    values: dict[str, float] = {}
    for key in SETTINGS:
        if key not in section:
            continue
        value = section[key]
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
            values[key] = float(value)
        else:
            problems.append(f"`triage.{key}` must be a number from 0 to 1, found {value!r}; the default is used")
    checks = frozenset(c for c in Check if c.value not in disabled)
    return TriageSettings(checks, **values), problems


def triage_leaves(leaves: Iterable[tuple[Leaf, str | None]], settings: TriageSettings) -> list[tuple[Leaf, list[Hit]]]:
    """What the checks that are on find in each leaf (and its attribution.txt), without a model. The abuse
    classifier gets the seeds of all leaves in one call; the repeated-seed and secret searches run once."""
    on = settings.checks
    found: list[tuple[Leaf, list[Hit]]] = []
    seeds: list[Text] = []
    every_text: list[Text] = []
    leaf_of: dict[str, str] = {}  # a text's path (the leaf's, or its attribution.txt's) -> the leaf's
    for leaf, attribution in leaves:
        texts = leaf_texts(leaf, attribution)
        seeds_only = [t for t in texts if t.origin in (Origin.QUESTION, Origin.ANSWER)]
        hits: list[Hit] = []
        if Check.PERSONAL_DATA in on:
            hits += personal_data(texts, settings.personal_data_min_score)
        if Check.MACHINE_WRITTEN in on:
            hits += machine_written(seeds_only)
        found.append((leaf, hits))
        seeds += seeds_only
        every_text += texts
        leaf_of |= {text.path: leaf.path for text in texts}
    across = seed_quality([leaf for leaf, _ in found], on)
    if Check.SECRET in on:
        across += secrets(every_text)
    if Check.ABUSE in on:
        across += abuse(seeds, settings.abuse_threshold)
    by_path: dict[str, list[Hit]] = {}
    for hit in across:
        by_path.setdefault(leaf_of[hit.path], []).append(hit)
    return [(leaf, hits + by_path.get(leaf.path, [])) for leaf, hits in found]


def _seed_at(leaf: Leaf, line: int) -> int | None:
    """The seed example whose question or answer holds `line` (the last one starting at or before it)."""
    starts = [(min(s.question_line, s.answer_line), i) for i, s in enumerate(leaf.seed_examples)]
    before = [i for start, i in sorted(starts) if start <= line]
    return before[-1] if before else None


def with_opinion(leaf: Leaf, hits: list[Hit], abusive: Collection[int], machine: Collection[int]) -> list[Hit]:
    """The hits with the teacher's opinion as evidence: a machine-written note it agrees with becomes a warning;
    an example it alone calls abusive, a warning; one it alone calls machine-written, a note."""
    seeds = leaf.seed_examples
    merged: list[Hit] = []
    agreed: set[tuple[Check, int]] = set()
    for hit in hits:
        index = _seed_at(leaf, hit.line)
        if hit.check is Check.ABUSE and index is not None:
            agrees = index in abusive
            hit = replace(hit, source=f"{hit.source}; the teacher {'agrees' if agrees else 'disagrees'}")
            agreed.add((Check.ABUSE, index))
        if hit.check is Check.MACHINE_WRITTEN and index is not None:
            agrees = index in machine
            hit = replace(hit, source=f"{hit.source}; the teacher {'agrees' if agrees else 'disagrees'}",
                          level=Level.WARNING if agrees else hit.level)  # fmt: skip
            agreed.add((Check.MACHINE_WRITTEN, index))
        merged.append(hit)
    for index in sorted(abusive):
        if (Check.ABUSE, index) not in agreed:
            merged.append(Hit(Check.ABUSE, leaf.path, seeds[index].answer_line, Level.WARNING,
                              "the teacher finds this example abusive or offensive", "teacher"))  # fmt: skip
    for index in sorted(machine):
        if (Check.MACHINE_WRITTEN, index) not in agreed:
            merged.append(Hit(Check.MACHINE_WRITTEN, leaf.path, seeds[index].answer_line, Level.NOTE,
                              "the teacher finds this answer written by a chat model", "teacher"))  # fmt: skip
    return merged


async def _judged(leaf: Leaf, hits: list[Hit], client: ModelClient, settings: TriageSettings) -> tuple[list[Hit], str]:
    try:
        abusive, machine = await second_opinion(leaf, client)
    except (EndpointError, ReplyFormatError) as error:
        return hits, f"{leaf.path}: no second opinion from the teacher: {error}"
    if Check.ABUSE not in settings.checks:
        abusive = frozenset()
    if Check.MACHINE_WRITTEN not in settings.checks:
        machine = frozenset()
    return with_opinion(leaf, hits, abusive, machine), ""


def triage(leaves: Iterable[tuple[Leaf, str | None]], settings: TriageSettings,
           teacher: Endpoint | None = None) -> tuple[list[Hit], list[str]]:  # fmt: skip
    """Hits for every leaf (with its attribution.txt text), and notes on what the teacher could not judge."""
    found = triage_leaves(leaves, settings)
    wants_teacher = {Check.ABUSE, Check.MACHINE_WRITTEN} & settings.checks
    if teacher is None or not wants_teacher or not found:
        return [hit for _, hits in found for hit in hits], []

    async def judge_all() -> list[tuple[list[Hit], str]]:
        async with ModelClient(teacher) as client:  # made and closed inside the loop it runs on
            return await asyncio.gather(*(_judged(leaf, hits, client, settings) for leaf, hits in found))

    judged = asyncio.run(judge_all())
    return [hit for hits, _ in judged for hit in hits], [note for _, note in judged if note]


def to_findings(hits: Iterable[Hit]) -> list[Finding]:
    """The warnings as findings on their lines; notes stay in the triage table."""
    return [Finding(h.path, h.line, 1, Severity.WARNING, h.check.value, h.message) for h in hits
            if h.level is Level.WARNING]  # fmt: skip


def triage_rows(hits: Iterable[Hit]) -> list[dict[str, object]]:
    """The triage table of the report: warnings first, then notes, by place."""
    ordered = sorted(hits, key=lambda h: (h.level is not Level.WARNING, h.path, h.line, h.check))
    return [{"leaf": h.path, "line": h.line, "check": h.check.value, "level": h.level.value, "found": h.message,
             "by": h.source} for h in ordered]  # fmt: skip


def open_checks(rows: object) -> set[Check]:
    """The checks with a warning in a triage table read back from a report (data, so checked as it is read)."""
    if not isinstance(rows, list):
        return set()
    known = {c.value: c for c in Check}
    return {known[r["check"]] for r in rows if isinstance(r, dict) and r.get("level") == Level.WARNING.value
            and r.get("check") in known}  # fmt: skip
