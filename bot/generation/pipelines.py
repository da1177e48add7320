"""Synthetic data generation, the LAB way: a teacher writes candidates from a leaf's seeds, judges them, filters."""

from __future__ import annotations

import asyncio
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from bot.generation.documents import chunk_text
from bot.generation.prompts import (
    PROMPT_VERSION,
    Candidate,
    Lengths,
    Verdict,
    candidates_schema,
    freeform_prompt,
    grounded_prompt,
    judge_prompt,
    judge_schema,
    knowledge_prompt,
    read_candidates,
    read_verdicts,
    stands_alone,
)
from bot.generation.teacher import Endpoint, EndpointError, Message, ModelClient, ReplyCutError, ReplyFormatError
from bot.taxonomy.tree import Leaf, LeafKind

PIPELINE_VERSION = f"2.{PROMPT_VERSION}"

_MARGIN_TOKENS = 64  # the chat template's own tokens, and the estimate's error
_INSTRUCTION_TOKENS = 300  # a generation prompt without its seeds, with the margin

BEFORE_THE_JUDGE = frozenset({"unusable item", "duplicate", "duplicate of a seed", "question not standalone",
                              "not judged"})  # fmt: skip
"""Reasons a candidate is dropped without a verdict: every other candidate was judged."""


@dataclass(frozen=True)
class Plan:
    """How much to generate per leaf and how to spend requests on it."""

    target: int
    per_call: int = 5
    judge_batch: int = 10
    min_score: int = 2
    duplicate_cutoff: float = 90.0
    chunk_tokens: int = 1000
    seeds_per_prompt: int = 3  # seeds shown per request, rotated across requests for variety
    samples: int = 4  # replies asked per prompt in one request (OpenAI's `n`) where the teacher gives them
    overshoot: float = 1.5  # ask for more than needed: the judge and the duplicate filter drop some
    max_rounds: int = 3
    every_chunk: bool = True  # each chunk of a knowledge document reaches the teacher at least once


@dataclass(frozen=True)
class Kept:
    candidate: Candidate
    score: int


@dataclass
class LeafOutcome:
    """What generation gave for one leaf: pairs kept, and why each other candidate was dropped.

    Every candidate the teacher wrote is accounted for: candidates == len(kept) + sum(dropped.values()).
    Requests that failed wrote no candidate; they are counted in `failed_requests` (a request for several
    replies once per reply lost) and said in `notes`.
    """

    path: str
    kind: LeafKind
    kept: list[Kept] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    candidates: int = 0
    failed_requests: int = 0
    cut_replies: int = 0
    target: int = 0
    _said: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def short(self) -> bool:
        return len(self.kept) < self.target

    @property
    def judged(self) -> int:
        return self.candidates - sum(n for why, n in self.dropped.items() if why in BEFORE_THE_JUDGE)

    def note(self, text: str) -> None:
        """Say `text` once: the same fault on every request is one note with a count, not hundreds."""
        self._said[text] = self._said.get(text, 0) + 1
        self.notes = [f"{said} ({n} times)" if n > 1 else said for said, n in self._said.items()]


def seed_candidates(leaf: Leaf) -> list[Candidate]:
    return [Candidate(s.question, s.answer, s.context) for s in leaf.seed_examples]


def normalise(text: str) -> str:
    """Text as the duplicate checks compare it: case folded, runs of white space made one space."""
    return " ".join(text.casefold().split())


@dataclass
class _DuplicateFilter:
    """Drops exact and near copies (rapidfuzz ratio) of the seeds and of what was already kept."""

    cutoff: float
    seen: list[str] = field(default_factory=list)
    seeds: int = 0

    def verdict(self, candidate: Candidate, grounded: bool = False) -> str | None:
        # A grounded skill's item is its context and question: a seed's question over a new context is new data.
        text = normalise(f"{candidate.context} {candidate.question}" if grounded else candidate.question)
        match = process.extractOne(text, self.seen, scorer=fuzz.ratio, score_cutoff=self.cutoff)
        if match is not None:
            return "duplicate of a seed" if match[2] < self.seeds else "duplicate"
        self.seen.append(text)
        return None


@dataclass
class _Shape:
    """How one leaf's generation requests are shaped; a reply cut at max_tokens reshapes the next ones."""

    per_call: int
    max_tokens: int
    grown: bool = False

    def after_cut(self, room: int) -> None:
        self.per_call = max(1, self.per_call // 2)
        self.max_tokens = max(self.max_tokens, room)  # the whole room the context leaves, not the default
        self.grown = True


def _lengths(seeds: Sequence[Candidate]) -> Lengths:
    def longest(values: list[int], floor: int) -> int:
        return max([floor, *(2 * v for v in values)])

    return Lengths(
        context=longest([len(s.context or "") for s in seeds], 600),
        question=longest([len(s.question) for s in seeds], 300),
        answer=longest([len(s.answer) for s in seeds], 600),
    )


async def generate_leaf(leaf: Leaf, client: ModelClient, plan: Plan, documents: Sequence[str] = ()) -> LeafOutcome:
    """Up to `plan.target` judged pairs for one leaf. Endpoint faults become notes; nothing raises."""
    outcome = LeafOutcome(leaf.path, leaf.kind, target=plan.target)
    seeds = seed_candidates(leaf)
    if not seeds:
        outcome.note("the leaf has no seed examples to learn from")
        return outcome
    grounded = leaf.kind is LeafKind.GROUNDED_SKILL
    seen = [normalise(f"{s.context} {s.question}" if grounded else s.question) for s in seeds]
    duplicates = _DuplicateFilter(plan.duplicate_cutoff, seen, len(seeds))
    context = client.endpoint.context_tokens
    chunk_tokens = min(plan.chunk_tokens, context // 3)
    chunks = [c for text in documents for c in chunk_text(text, chunk_tokens, client.tokens)]
    if leaf.kind is LeafKind.KNOWLEDGE and not chunks:
        chunks = list(dict.fromkeys(s.context for s in seeds if s.context))  # the seed contexts stand in
        if not chunks:
            outcome.note("no document chunk and no seed context to generate from")
            return outcome
    lengths = _lengths(seeds)
    item_tokens, per_call = first_shape(leaf, plan, context, client.endpoint.max_tokens, client.tokens)
    shape = _Shape(per_call, client.endpoint.max_tokens)
    call = 0
    for round_number in range(plan.max_rounds):
        need = plan.target - len(outcome.kept)
        if need <= 0:
            break
        every_chunk = leaf.kind is LeafKind.KNOWLEDGE and plan.every_chunk and round_number == 0
        completions = math.ceil(math.ceil(need * plan.overshoot) / shape.per_call)
        # Several replies per prompt where the teacher gives them in one request; else a prompt of its own
        # per reply (as many requests either way), for variety.
        samples = _samples(plan, shape.per_call) if client.gives_samples else 1
        prompts = _prompt_samples(completions, samples, len(chunks) if every_chunk else 1)
        jobs = []
        for replies in prompts:
            jobs.append(_generate_once(leaf, client, seeds, chunks, call, shape, item_tokens, lengths, plan, replies))
            call += 1
        fresh: list[Candidate] = []
        results = await asyncio.gather(*jobs)
        for written in results:
            outcome.failed_requests += len(written.failed)
            for failure in written.failed:
                outcome.note(failure)
            outcome.candidates += len(written.found) + written.unusable
            outcome.dropped["unusable item"] += written.unusable
            outcome.cut_replies += written.cuts
            fresh += written.found
        unique = []
        for candidate in fresh:
            if reason := duplicates.verdict(candidate, grounded):
                outcome.dropped[reason] += 1
            elif leaf.kind is LeafKind.KNOWLEDGE and not stands_alone(candidate.question):
                outcome.dropped["question not standalone"] += 1
            else:
                unique.append(candidate)
        await _judge(leaf, client, plan, unique, outcome)
        if all(written.failed and not written.found and not written.unusable for written in results):
            break  # every request failed after its retries: another round would fail the same way
    if len(outcome.kept) > plan.target:
        outcome.dropped["over the target"] += len(outcome.kept) - plan.target
        del outcome.kept[plan.target :]
    outcome.dropped = +outcome.dropped  # zero counts are not news
    if outcome.cut_replies:
        outcome.note(
            f"{outcome.cut_replies} repl(ies) cut at max_tokens; later requests asked for {shape.per_call} "
            f"item(s) with up to {shape.max_tokens} tokens"
        )
    return outcome


def first_shape(
    leaf: Leaf, plan: Plan, context_tokens: int, max_tokens: int, tokens: Callable[[str], int]
) -> tuple[int, int]:
    """The tokens one written item takes (about the longest seed's, with its JSON keys) and the items asked
    per request: as many as `max_tokens` holds (at least one) and the context holds beside the prompt, so
    long seeds are asked for a few at a time instead of being cut. Fewer seeds are shown before fewer items
    are asked: rotation across requests still shows them all."""
    grounded = leaf.kind is LeafKind.GROUNDED_SKILL
    seeds = leaf.seed_examples
    item_tokens = max((tokens((s.context or "" if grounded else "") + s.question + s.answer) for s in seeds), default=0)
    item_tokens += 24
    examples = min(plan.seeds_per_prompt, len(seeds))
    while examples > 1 and _INSTRUCTION_TOKENS + item_tokens * (examples + plan.per_call) > context_tokens:
        examples -= 1
    room = context_tokens - _INSTRUCTION_TOKENS - item_tokens * max(1, examples)
    return item_tokens, max(1, min(plan.per_call, room // item_tokens, max_tokens // item_tokens))


def leaf_requests(
    leaf: Leaf, plan: Plan, endpoint: Endpoint, tokens: Callable[[str], int], samples: bool = True
) -> int:
    """The requests one round for `plan.target` pairs makes: the estimate before a run. `samples`: the
    teacher gives several choices per request (else each sample is a request of its own)."""
    _, per_call = first_shape(leaf, plan, endpoint.context_tokens, endpoint.max_tokens, tokens)
    asked = math.ceil(plan.target * plan.overshoot)
    prompts = _prompt_samples(math.ceil(asked / per_call), _samples(plan, per_call))
    return (len(prompts) if samples else sum(prompts)) + math.ceil(asked / plan.judge_batch)


def _rotated(seeds: list[Candidate], call: int, count: int) -> list[Candidate]:
    """`count` seeds starting at a different one each call, so no two neighbouring requests are alike."""
    return [seeds[(call + i) % len(seeds)] for i in range(min(count, len(seeds)))]


def _prompt(
    leaf: Leaf, seeds: list[Candidate], chunks: list[str], call: int, examples: int, count: int
) -> tuple[list[Message], str | None]:
    task = leaf.task or leaf.path
    shown = _rotated(seeds, call, examples)
    if leaf.kind is LeafKind.KNOWLEDGE:
        chunk = chunks[call % len(chunks)]
        return knowledge_prompt(str(leaf.data.get("domain") or task), chunk, shown, count), chunk
    if leaf.kind is LeafKind.GROUNDED_SKILL:
        return grounded_prompt(task, shown, count), None
    return freeform_prompt(task, shown, count), None


def _prompt_tokens(client: ModelClient, messages: list[Message]) -> int:
    return sum(client.tokens(m["content"]) for m in messages) + _MARGIN_TOKENS


@dataclass
class _Written:
    """What one prompt's samples gave: candidates, unusable items, cut replies, and a note per failed sample."""

    found: list[Candidate] = field(default_factory=list)
    unusable: int = 0
    cuts: int = 0
    failed: list[str] = field(default_factory=list)


def _samples(plan: Plan, per_call: int) -> int:
    """Replies asked per prompt: as many as make up the `plan.per_call` items one reply would carry where the
    context lets it (at most `plan.samples`), so long seeds cost no more requests than short ones, and
    leaves whose replies hold all their items keep a prompt of their own per reply, for variety."""
    return max(1, min(plan.samples, math.ceil(plan.per_call / max(1, per_call))))


def _prompt_samples(completions: int, samples: int, prompts: int = 1) -> list[int]:
    """The replies asked of each prompt: `completions` spread evenly over as few prompts as `samples` per
    prompt allows, and over at least `prompts` (each asked at least once)."""
    prompts = max(prompts, math.ceil(completions / max(1, samples)))
    return [max(1, completions // prompts + (1 if i < completions % prompts else 0)) for i in range(prompts)]


async def _generate_once(
    leaf: Leaf,
    client: ModelClient,
    seeds: list[Candidate],
    chunks: list[str],
    call: int,
    shape: _Shape,
    item_tokens: int,
    lengths: Lengths,
    plan: Plan,
    samples: int = 1,
) -> _Written:
    """`samples` replies to one generation prompt (one request where the teacher gives several choices),
    sized to the teacher's context and reshaped when a reply is cut; a failure is a note, never the run's."""
    grounded = leaf.kind is LeafKind.GROUNDED_SKILL
    context = client.endpoint.context_tokens
    written = _Written()
    pending = samples
    for _attempt in range(3):
        # Fewer seeds shown, then fewer items asked, until the prompt and the reply fit the context.
        count = shape.per_call
        examples = plan.seeds_per_prompt
        messages, chunk = _prompt(leaf, seeds, chunks, call, examples, count)
        while examples > 1 and _prompt_tokens(client, messages) + item_tokens * count > context:
            examples -= 1
            messages, chunk = _prompt(leaf, seeds, chunks, call, examples, count)
        room = context - _prompt_tokens(client, messages)
        if room < item_tokens // 2:
            note = f"generation request: the prompt leaves no room for a reply in {context} tokens"
            written.failed += [note] * pending
            return written
        count = max(1, min(count, room // max(1, item_tokens)))
        if count != shape.per_call:
            messages, chunk = _prompt(leaf, seeds, chunks, call, examples, count)
        # The budget, or more where one item of this leaf needs more, within what the context leaves.
        max_tokens = max(16, min(room, max(shape.max_tokens, math.ceil(item_tokens * 1.25))))
        variant = f"{PIPELINE_VERSION}/{leaf.path}#{call}/{count}x{max_tokens}"
        try:
            answers = await client.ask_samples(
                messages,
                lambda text: read_candidates(text, grounded),
                pending,
                variant=variant,
                schema=candidates_schema(count, grounded, lengths),
                max_tokens=max_tokens,
            )
        except EndpointError as error:
            written.failed += [f"generation request: {error}"] * pending
            return written
        pending = 0
        for answered in answers:
            if isinstance(answered, ReplyCutError):
                written.cuts += 1
                pending += 1  # asked again, reshaped
            elif isinstance(answered, ReplyFormatError):
                written.failed.append(f"generation request: {answered}")
            else:
                found, unusable = answered.value
                if answered.cut:  # items before the cut are kept; the next requests are shaped to fit
                    written.cuts += 1
                if chunk is not None:
                    found = [Candidate(c.question, c.answer, chunk) for c in found]
                written.found += found[:count]
                written.unusable += unusable + max(0, len(found) - count)
        if any(isinstance(a, ReplyCutError) or (not isinstance(a, ReplyFormatError) and a.cut) for a in answers):
            if pending and shape.per_call == 1 and shape.max_tokens >= room:
                note = f"generation request: one item does not fit in {room} reply tokens (cut at max_tokens)"
                written.failed += [note] * pending
                return written
            shape.after_cut(room)
        if not pending:
            return written
    written.failed += ["generation request: every reply was cut at max_tokens"] * pending
    return written


def _batches(client: ModelClient, plan: Plan, candidates: list[Candidate]) -> list[list[Candidate]]:
    """Judge batches of at most `judge_batch` items whose prompt fits half the teacher's context."""
    budget = client.endpoint.context_tokens // 2
    batches: list[list[Candidate]] = []
    size = 0
    for candidate in candidates:
        tokens = client.tokens(candidate.question + candidate.answer + (candidate.context or ""))
        if batches and len(batches[-1]) < plan.judge_batch and size + tokens <= budget:
            batches[-1].append(candidate)
            size += tokens
        else:
            batches.append([candidate])
            size = tokens
    return batches


async def _judge(
    leaf: Leaf, client: ModelClient, plan: Plan, candidates: list[Candidate], outcome: LeafOutcome
) -> None:
    knowledge = leaf.kind is LeafKind.KNOWLEDGE
    grounded = leaf.kind in (LeafKind.KNOWLEDGE, LeafKind.GROUNDED_SKILL)

    async def judge(batch: list[Candidate]) -> list[tuple[Candidate, Verdict | str]]:
        # Items of one batch share a grounding text when they came from one chunk; otherwise each carries its own.
        groundings = {c.context for c in batch} if grounded else {None}
        grounding = groundings.pop() if len(groundings) == 1 else None
        messages = judge_prompt(leaf.task or leaf.path, batch, grounding, knowledge)
        room = client.endpoint.context_tokens - _prompt_tokens(client, messages)
        try:
            answered = await client.ask(
                messages,
                lambda text: read_verdicts(text, len(batch)),
                variant=f"{PIPELINE_VERSION}/judge",  # the items make each prompt its own
                schema=judge_schema(len(batch), knowledge),
                max_tokens=max(16, min(room, 120 * len(batch) + 64)),
                temperature=0.0,
            )
        except ReplyCutError as error:
            if len(batch) == 1:
                return [(batch[0], f"judge request: {error}")]
            half = len(batch) // 2  # a verdict list cut short: judge each half on its own
            return await judge(batch[:half]) + await judge(batch[half:])
        except (EndpointError, ReplyFormatError) as error:
            return [(c, f"judge request: {error}") for c in batch]
        verdicts = answered.value
        return [(c, verdicts.get(i, "skipped by the judge")) for i, c in enumerate(batch)]

    results = await asyncio.gather(*(judge(batch) for batch in _batches(client, plan, candidates)))
    for candidate, verdict in (pair for batch in results for pair in batch):
        if isinstance(verdict, str):
            outcome.dropped["not judged"] += 1
            if verdict.startswith("judge request"):
                outcome.note(verdict)
        elif knowledge and not verdict.faithful:
            outcome.dropped["unfaithful to the document"] += 1
        elif knowledge and not verdict.relevant:
            outcome.dropped["answer off the question"] += 1
        elif knowledge and not verdict.standalone:
            outcome.dropped["question not standalone"] += 1
        elif verdict.score < plan.min_score:
            outcome.dropped[f"judged {verdict.score}"] += 1
        else:
            outcome.kept.append(Kept(candidate, verdict.score))


def sample_plan(count: int) -> Plan:
    """A review's few pairs: one generation request asking for all of them with room to drop, one judging."""
    batch = max(1, math.ceil(count * Plan(target=count).overshoot))
    return Plan(target=count, per_call=batch, judge_batch=batch, every_chunk=False)
