"""The evaluation gate: the previous release and the candidate answer the same questions; the scores decide."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from statistics import fmean
from typing import Protocol

from rapidfuzz import fuzz

from bot.taxonomy.tree import Leaf, LeafKind

CHANGED, KEPT, GENERAL = "changed", "kept", "general"
GROUP_TITLES = {CHANGED: "new and changed leaves", KEPT: "other leaves", GENERAL: "general questions"}


@dataclass(frozen=True)
class GateQuestion:
    """One question with the answer it should get; `source` is a leaf path or `general/<topic>`."""

    group: str
    source: str
    question: str
    reference: str
    context: str | None = None

    @property
    def prompt(self) -> str:
        return f"{self.context}\n\n{self.question}" if self.context else self.question


class Answerer(Protocol):
    """A model that answers prompts: a local checkpoint, or an OpenAI-compatible student endpoint."""

    def answer(self, prompts: Sequence[str]) -> list[str]: ...


class Judge(Protocol):
    """Grades answers against the reference answers: 1 wrong, 2 partly right, 3 right; None when it could not."""

    def grade(self, questions: Sequence[GateQuestion], answers: Sequence[str]) -> list[int | None]: ...


def _words(text: str) -> list[str]:
    return "".join(c if c.isalnum() else " " for c in text.casefold()).split()


def rouge_l(answer: str, reference: str) -> float:
    """ROUGE-L F1: the longest common subsequence of words, against both lengths."""
    a, b = _words(answer), _words(reference)
    if not a or not b:
        return 0.0
    row = [0] * (len(b) + 1)  # row[j]: the LCS of the words of `a` so far and b[:j]
    for x in a:
        above_left = 0
        for j, y in enumerate(b, start=1):
            above = row[j]
            row[j] = above_left + 1 if x == y else max(above, row[j - 1])
            above_left = above
    lcs = row[-1]
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


def token_set(answer: str, reference: str) -> float:
    """rapidfuzz's token_set_ratio on a 0-1 scale. Its quirk: an answer whose words are all in the
    reference scores 1.0 however short it is ("Paris" against "The capital is Paris"), so it flatters terse models."""
    return fuzz.token_set_ratio(answer, reference, processor=lambda s: " ".join(_words(s))) / 100.0


METRICS: dict[str, Callable[[str, str], float]] = {"rouge_l": rouge_l, "token_set": token_set}


@dataclass(frozen=True)
class GateSettings:
    """How the gate asks and decides; margins are on the 0-1 score scale."""

    metric: str = "rouge_l"
    min_gain: float = 0.02  # the changed leaves must score at least this much better
    max_regression: float = 0.02  # other leaves and general questions may score at most this much worse
    kept_leaves: int = 5  # unchanged leaves whose seeds are asked too, for forgetting
    general_set: str | None = None  # a JSONL file of {question, answer, topic}; None: the shipped set
    judge: bool = False  # the teacher grades answers as well
    max_new_tokens: int = 256


def leaf_questions(leaf: Leaf, group: str) -> list[GateQuestion]:
    """A leaf's seeds as questions. Knowledge is asked without its context: the model should now know it."""
    keep_context = leaf.kind is not LeafKind.KNOWLEDGE
    return [
        GateQuestion(group, leaf.path, seed.question, seed.answer, seed.context if keep_context else None)
        for seed in leaf.seed_examples
    ]


def parse_general_set(text: str, source: str) -> list[GateQuestion]:
    """The general questions from JSONL lines `{question, answer, topic}`; a bad line is a ValueError naming it."""
    questions = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            questions.append(GateQuestion(GENERAL, f"general/{item.get('topic', 'misc')}", item["question"],
                                          item["answer"]))  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{source}:{number}: not a {{question, answer, topic}} object ({error})") from error
    return questions


def gate_questions(
    changed: Sequence[Leaf], unchanged: Sequence[Leaf], general: Sequence[GateQuestion], kept_leaves: int
) -> list[GateQuestion]:
    """Seeds of the changed leaves, of a fixed sample of the others, and the general set."""
    # A stable sample that still varies across the tree: leaves ordered by a hash of their path.
    sample = sorted(unchanged, key=lambda leaf: hashlib.sha256(leaf.path.encode()).hexdigest())[:kept_leaves]
    questions = [q for leaf in changed for q in leaf_questions(leaf, CHANGED)]
    questions += [q for leaf in sorted(sample, key=lambda leaf: leaf.path) for q in leaf_questions(leaf, KEPT)]
    return questions + list(general)


@dataclass(frozen=True)
class Scored:
    """One question's answers and scores; `*_grade` is the judge's 1-3, None without a judge."""

    question: GateQuestion
    previous_answer: str
    candidate_answer: str
    previous_similarity: float
    candidate_similarity: float
    previous_grade: int | None = None
    candidate_grade: int | None = None

    @staticmethod
    def combined(similarity: float, grade: int | None) -> float:
        """The score that decides: the similarity, averaged with the judge's grade on 0-1 when there is one."""
        return similarity if grade is None else (similarity + (grade - 1) / 2) / 2

    @property
    def previous(self) -> float:
        return self.combined(self.previous_similarity, self.previous_grade)

    @property
    def candidate(self) -> float:
        return self.combined(self.candidate_similarity, self.candidate_grade)


@dataclass(frozen=True)
class GroupResult:
    name: str
    questions: int
    previous: float
    candidate: float

    @property
    def change(self) -> float:
        return self.candidate - self.previous


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class GateReport:
    """The gate's numbers and verdict. `scored` holds every answer; the JSON summary leaves them out."""

    metric: str
    judged: bool
    groups: list[GroupResult]
    leaves: list[GroupResult]
    checks: list[Check]
    scored: list[Scored] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    def summary_json(self) -> dict[str, object]:
        return {"metric": self.metric, "judged": self.judged, "passed": self.passed,
                "groups": [asdict(g) for g in self.groups], "leaves": [asdict(g) for g in self.leaves],
                "checks": [asdict(c) for c in self.checks]}  # fmt: skip

    @classmethod
    def from_summary(cls, data: dict[str, object]) -> GateReport:
        def results(key: str) -> list[GroupResult]:
            return [GroupResult(**item) for item in data[key]]  # type: ignore[attr-defined]

        checks = [Check(**item) for item in data["checks"]]  # type: ignore[attr-defined]
        return cls(str(data["metric"]), bool(data["judged"]), results("groups"), results("leaves"), checks)


def _result(name: str, items: Sequence[Scored]) -> GroupResult:
    return GroupResult(name, len(items), fmean(s.previous for s in items), fmean(s.candidate for s in items))


def decide(scored: Sequence[Scored], settings: GateSettings, judged: bool) -> GateReport:
    """Group the scores and apply the two rules: the changed leaves improve, the rest does not regress."""
    groups = {name: [s for s in scored if s.question.group == name] for name in GROUP_TITLES}
    results = {name: _result(name, items) for name, items in groups.items() if items}
    leaves = sorted({s.question.source for s in groups[CHANGED]})
    per_leaf = [_result(leaf, [s for s in groups[CHANGED] if s.question.source == leaf]) for leaf in leaves]
    checks = []
    changed = results.get(CHANGED)
    if changed is None:
        checks.append(Check("improves the new leaves", True, "no leaf was added or changed: nothing to improve"))
    else:
        checks.append(Check(
            "improves the new leaves", changed.change >= settings.min_gain,
            f"{changed.candidate:.3f} against {changed.previous:.3f} ({changed.change:+.3f}, needs "
            f"{settings.min_gain:+.3f})",
        ))  # fmt: skip
    for name in (KEPT, GENERAL):
        if (result := results.get(name)) is not None:
            checks.append(Check(
                f"does not regress on {GROUP_TITLES[name]}", result.change >= -settings.max_regression,
                f"{result.candidate:.3f} against {result.previous:.3f} ({result.change:+.3f}, may fall "
                f"{settings.max_regression:.3f})",
            ))  # fmt: skip
    return GateReport(settings.metric, judged, list(results.values()), per_leaf, checks, list(scored))


def run_gate(
    questions: Sequence[GateQuestion],
    previous: Answerer,
    candidate: Answerer,
    settings: GateSettings,
    judge: Judge | None = None,
) -> GateReport:
    """Ask both models every question, score each answer against its reference, and decide."""
    prompts = [q.prompt for q in questions]
    previous_answers = previous.answer(prompts)
    candidate_answers = candidate.answer(prompts)
    metric = METRICS[settings.metric]
    none: list[int | None] = [None] * len(questions)
    previous_grades = judge.grade(questions, previous_answers) if judge else none
    candidate_grades = judge.grade(questions, candidate_answers) if judge else none
    scored = [
        Scored(q, pa, ca, metric(pa, q.reference), metric(ca, q.reference), pg, cg)
        for q, pa, ca, pg, cg in zip(
            questions, previous_answers, candidate_answers, previous_grades, candidate_grades, strict=True
        )
    ]
    return decide(scored, settings, judged=judge is not None)


def render_gate(report: GateReport) -> str:
    """The gate as Markdown: scores by set, by changed leaf, and each rule with its verdict."""
    scale = f"{report.metric}" + (" averaged with the teacher's grade" if report.judged else "")
    lines = [
        f"**Gate: {'passed' if report.passed else 'failed'}** (scores 0-1, {scale})",
        "",
        "| questions | count | previous | candidate | change |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [f"| {GROUP_TITLES[g.name]} | {g.questions} | {g.previous:.3f} | {g.candidate:.3f} | {g.change:+.3f} |"
              for g in report.groups]  # fmt: skip
    if report.leaves:
        lines += ["", "| changed leaf | seeds | previous | candidate | change |", "| --- | ---: | ---: | ---: | ---: |"]
        lines += [f"| `{g.name}` | {g.questions} | {g.previous:.3f} | {g.candidate:.3f} | {g.change:+.3f} |"
                  for g in report.leaves]  # fmt: skip
    lines += [""] + [f"- {'pass' if c.passed else 'FAIL'}: {c.name}: {c.detail}" for c in report.checks]
    return "\n".join(lines) + "\n"
