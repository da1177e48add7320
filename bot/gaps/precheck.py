"""Gaps in the model: does the current student model already answer a change's seed questions?"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from bot.generation.teacher import ConfigError, EndpointError, Message, ModelClient, endpoint_from
from bot.similar.seedindex import words
from bot.taxonomy.tree import Leaf, SeedExample

# Words that say nothing about whether an answer is right; they would count for any fluent reply.
_FILLER = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "do", "does", "for", "from", "had", "has",
        "have", "he", "her", "his", "how", "i", "if", "in", "into", "is", "it", "its", "of", "on", "or", "our",
        "she", "so", "than", "that", "the", "their", "them", "then", "there", "these", "they", "this", "to",
        "was", "we", "were", "what", "when", "where", "which", "who", "why", "will", "with", "would", "you", "your",
    }
)  # fmt: skip


def _content(text: str) -> set[str]:
    return {w for w in words(text) if w.isalnum() and w not in _FILLER}


def answer_score(question: str, expected: str, reply: str) -> float:
    """How much of what the seed answer adds to its question (0-100) the reply also says.

    Only the answer's own words count: "Mercury" in "Mercury is the planet closest to the sun", asked
    "Which planet is closest to the sun?". Lexical, so it suits facts and grounded answers best; a
    freeform skill (a poem) scores low even when the reply is good, and reads as "answers unlike the seeds".
    """
    expected_words = _content(expected)
    own = (expected_words - _content(question)) or expected_words
    if not own:
        return 100.0
    return round(100 * len(own & _content(reply)) / len(own), 1)


@dataclass(frozen=True)
class StudentAnswer:
    line: int
    question: str
    reply: str | None
    score: float | None
    error: str | None = None


@dataclass(frozen=True)
class LeafPrecheck:
    """The student's answers to one leaf's seed questions, judged against the seed answers."""

    path: str
    answers: list[StudentAnswer]
    pass_score: float

    @property
    def asked(self) -> int:
        return sum(a.score is not None for a in self.answers)

    @property
    def correct(self) -> int:
        return sum(a.score is not None and a.score >= self.pass_score for a in self.answers)

    def verdict(self) -> str:
        asked, correct = self.asked, self.correct
        failed = len(self.answers) - asked
        unasked = f"; {failed} question(s) got no answer from the endpoint" if failed else ""
        if not asked:
            return f"the student gave no answer ({self.answers[0].error if self.answers else 'no questions'})"
        if correct == asked:
            return f"the student already answers all {asked} like the seed answers: little new to teach{unasked}"
        if correct == 0:
            return f"the student gets all {asked} wrong: this fills a gap{unasked}"
        return f"the student already answers {correct} of {asked} like the seed answers{unasked}"

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "asked": self.asked,
            "correct": self.correct,
            "verdict": self.verdict(),
            "answers": [asdict(a) for a in self.answers],
        }


def prompt(seed: SeedExample) -> list[Message]:
    """The seed question as a user would ask it, with its context when the seed has one."""
    if seed.context:
        return [{"role": "user", "content": f"{seed.context}\n\nUsing only the text above: {seed.question}"}]
    return [{"role": "user", "content": seed.question}]


async def _ask(client: ModelClient, seed: SeedExample, pass_score: float) -> StudentAnswer:
    try:
        reply = await client.chat(prompt(seed), temperature=0.0)
    except EndpointError as error:
        return StudentAnswer(seed.question_line, seed.question, None, None, str(error))
    return StudentAnswer(seed.question_line, seed.question, reply, answer_score(seed.question, seed.answer, reply))


async def ask_student(client: ModelClient, leaves: Sequence[Leaf], pass_score: float) -> list[LeafPrecheck]:
    """Every seed question of `leaves`, asked concurrently (the client caps how many at once).

    One question goes first: when the endpoint is down, that one failure is the whole answer,
    instead of every question waiting out its retries.
    """
    seeds = [(leaf.path, seed) for leaf in leaves for seed in leaf.seed_examples]
    if not seeds:
        return []
    first = await _ask(client, seeds[0][1], pass_score)
    if first.error is not None:
        answers = [first] + [StudentAnswer(s.question_line, s.question, None, None, first.error) for _, s in seeds[1:]]
    else:
        answers = [first, *await asyncio.gather(*(_ask(client, s, pass_score) for _, s in seeds[1:]))]
    by_leaf: dict[str, list[StudentAnswer]] = {leaf.path: [] for leaf in leaves}
    for (path, _), answer in zip(seeds, answers, strict=True):
        by_leaf[path].append(answer)
    return [LeafPrecheck(path, found, pass_score) for path, found in by_leaf.items()]


def student_precheck(
    section: Mapping[str, object], env: Mapping[str, str], leaves: Sequence[Leaf], pass_score: float
) -> tuple[list[LeafPrecheck], list[str]]:
    """The student's answers to the leaves' seed questions; endpoint trouble is a note, never a failure."""
    try:
        endpoint = endpoint_from(section, env, "TAXBOT_STUDENT")
    except ConfigError as error:
        return [], [f"the student is misconfigured, so model gaps were not checked: {error}"]
    if endpoint is None:
        return [], ["no student is configured, so model gaps were not checked (set TAXBOT_STUDENT_URL and _MODEL)"]

    async def ask() -> list[LeafPrecheck]:
        async with ModelClient(endpoint) as client:
            return await ask_student(client, leaves, pass_score)

    results = asyncio.run(ask())
    if results and not any(r.asked for r in results):
        error = next((a.error for r in results for a in r.answers if a.error), "no answer")
        where = f"{endpoint.model} at {endpoint.base_url}"
        return [], [f"could not ask the student {where}, so model gaps were not checked: {error}"]
    return results, []
