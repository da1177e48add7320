"""Synthetic data generation, the LAB way: a teacher writes candidates from a leaf's seeds, judges them, filters."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.generation.documents import chunk_text
from bot.generation.prompts import (
    PROMPT_VERSION,
    Candidate,
    freeform_prompt,
    grounded_prompt,
    judge_prompt,
    knowledge_prompt,
    read_items,
    read_pairs,
    read_scores,
)
from bot.generation.teacher import EndpointError, Message, ModelClient, ReplyFormatError
from bot.taxonomy.tree import Leaf, LeafKind

PIPELINE_VERSION = f"1.{PROMPT_VERSION}"


@dataclass(frozen=True)
class Plan:
    """How much to generate per leaf and how to spend requests on it."""

    target: int
    per_call: int = 5
    judge_batch: int = 10
    min_score: int = 2
    duplicate_cutoff: float = 90.0
    chunk_words: int = 600
    overshoot: float = 1.5  # ask for more than needed: the judge and the duplicate filter drop some
    max_rounds: int = 3

    def requests_per_round(self, need: int) -> tuple[int, int]:
        asked = math.ceil(need * self.overshoot)
        return math.ceil(asked / self.per_call), math.ceil(asked / self.judge_batch)


@dataclass(frozen=True)
class Kept:
    candidate: Candidate
    score: int


@dataclass
class LeafOutcome:
    """What generation gave for one leaf: pairs kept, and why the others were dropped."""

    path: str
    kind: LeafKind
    kept: list[Kept] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    candidates: int = 0  # everything the teacher wrote, before any filter


def seed_candidates(leaf: Leaf) -> list[Candidate]:
    return [Candidate(s.question, s.answer, s.context) for s in leaf.seed_examples]


def _normalise(text: str) -> str:
    return " ".join(text.casefold().split())


@dataclass
class _DuplicateFilter:
    """Drops exact and near copies (rapidfuzz ratio) of the seeds and of what was already kept."""

    cutoff: float
    seen: list[str] = field(default_factory=list)
    seeds: int = 0

    def verdict(self, candidate: Candidate) -> str | None:
        text = _normalise(candidate.question)
        match = process.extractOne(text, self.seen, scorer=fuzz.ratio, score_cutoff=self.cutoff)
        if match is not None:
            return "duplicate of a seed" if match[2] < self.seeds else "duplicate"
        self.seen.append(text)
        return None


def _grounding(leaf: Leaf, candidate: Candidate) -> str | None:
    return candidate.context if leaf.kind in (LeafKind.KNOWLEDGE, LeafKind.GROUNDED_SKILL) else None


async def generate_leaf(leaf: Leaf, client: ModelClient, plan: Plan, documents: Sequence[str] = ()) -> LeafOutcome:
    """Up to `plan.target` judged pairs for one leaf. Endpoint faults become notes; nothing raises."""
    outcome = LeafOutcome(leaf.path, leaf.kind)
    seeds = seed_candidates(leaf)
    duplicates = _DuplicateFilter(plan.duplicate_cutoff, [_normalise(s.question) for s in seeds], len(seeds))
    chunks = [c for text in documents for c in chunk_text(text, plan.chunk_words)]
    if leaf.kind is LeafKind.KNOWLEDGE and not chunks:
        chunks = list(dict.fromkeys(s.context for s in seeds if s.context))  # the seed contexts stand in
    prompt = _prompt_for(leaf, seeds, chunks, plan.per_call)
    reader = read_items if leaf.kind is LeafKind.GROUNDED_SKILL else read_pairs
    call = 0
    for _round in range(plan.max_rounds):
        need = plan.target - len(outcome.kept)
        if need <= 0:
            break
        generation_calls, _ = plan.requests_per_round(need)
        jobs = []
        for _ in range(generation_calls):
            messages, context = prompt(call)
            jobs.append(_ask(client, messages, reader, f"{leaf.path}#{call}", context))
            call += 1
        fresh: list[Candidate] = []
        for result in await asyncio.gather(*jobs):
            if isinstance(result, str):
                outcome.dropped["failed request"] += 1
                outcome.notes.append(result)
            else:
                fresh += result
        outcome.candidates += len(fresh)
        unique = []
        for candidate in fresh:
            if reason := duplicates.verdict(candidate):
                outcome.dropped[reason] += 1
            else:
                unique.append(candidate)
        await _judge(leaf, client, plan, unique, outcome)
    del outcome.kept[plan.target :]
    return outcome


def _prompt_for(
    leaf: Leaf, seeds: list[Candidate], chunks: list[str], per_call: int
) -> Callable[[int], tuple[list[Message], str | None]]:
    task = leaf.task or leaf.path
    if leaf.kind is LeafKind.KNOWLEDGE:
        domain = str(leaf.data.get("domain") or task)

        def knowledge(call: int) -> tuple[list[Message], str | None]:
            chunk = chunks[call % len(chunks)]
            return knowledge_prompt(domain, chunk, seeds[:3], per_call), chunk

        return knowledge
    if leaf.kind is LeafKind.GROUNDED_SKILL:
        return lambda call: (grounded_prompt(task, seeds, per_call), None)
    return lambda call: (freeform_prompt(task, seeds, per_call), None)


async def _ask(
    client: ModelClient,
    messages: list[Message],
    reader: Callable[[object], list[Candidate]],
    variant: str,
    context: str | None,
) -> list[Candidate] | str:
    """One generation request, isolated: its failure is a note, never the run's."""
    try:
        found = await client.chat_json(messages, reader, variant=variant)
    except (EndpointError, ReplyFormatError) as error:
        return f"generation request {variant}: {error}"
    if context is None:
        return found
    return [Candidate(c.question, c.answer, context) for c in found]


async def _judge(
    leaf: Leaf, client: ModelClient, plan: Plan, candidates: list[Candidate], outcome: LeafOutcome
) -> None:
    batches = [candidates[i : i + plan.judge_batch] for i in range(0, len(candidates), plan.judge_batch)]

    async def judge(batch: list[Candidate], number: int) -> tuple[list[Candidate], dict[int, int] | str]:
        # Items of one batch share a grounding text when they came from one chunk; otherwise each carries its own.
        groundings = {_grounding(leaf, c) for c in batch}
        grounding = groundings.pop() if len(groundings) == 1 else None
        messages = judge_prompt(leaf.task or leaf.path, batch, grounding)
        try:
            return batch, await client.chat_json(messages, lambda r: read_scores(r, len(batch)), variant=f"j{number}")
        except (EndpointError, ReplyFormatError) as error:
            return batch, f"judge request: {error}"

    results: list[Awaitable[tuple[list[Candidate], dict[int, int] | str]]] = [
        judge(batch, number) for number, batch in enumerate(batches)
    ]
    for batch, scores in await asyncio.gather(*results):
        if isinstance(scores, str):
            outcome.dropped["not judged"] += len(batch)
            outcome.notes.append(scores)
            continue
        for index, candidate in enumerate(batch):
            score = scores.get(index)
            if score is None:
                outcome.dropped["not judged"] += 1
            elif score < plan.min_score:
                outcome.dropped[f"judged {score}"] += 1
            else:
                outcome.kept.append(Kept(candidate, score))
