"""Renderings of a `similar` review: plain text, JSON, and markdown for a pull-request comment."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass

from bot.safetext import comment_safe
from bot.similar.duplicates import Match, MatchKind, describe
from bot.similar.indexcache import IndexStats
from bot.taxonomy.findings import Finding

_COUNTED = {
    MatchKind.QNA: "duplicate seed example",
    MatchKind.QUESTION: "repeated question",
    MatchKind.ANSWER: "repeated answer",
    MatchKind.CONTEXT: "shared context",
}
_NAMES = {
    MatchKind.QNA: "duplicate seed example",
    MatchKind.QUESTION: "same question, other answer",
    MatchKind.ANSWER: "same answer, other question",
    MatchKind.CONTEXT: "shared context",
}


@dataclass(frozen=True)
class SimilarReport:
    """What `taxbot similar` found, and against what."""

    matches: list[Match]
    leaves_checked: int
    index: IndexStats
    problems: list[Finding]  # in the config

    @property
    def duplicates(self) -> list[Match]:
        """Matches a contributor should look at; shared contexts alone are common and often intended."""
        return [m for m in self.matches if m.kind is not MatchKind.CONTEXT]

    def summary(self) -> str:
        counts = Counter(m.kind for m in self.matches)
        found = ", ".join(
            f"{counts[kind]} {_COUNTED[kind]}{'s' if counts[kind] > 1 else ''}" for kind in MatchKind if counts[kind]
        )
        leaves = f"{self.leaves_checked} lea{'f' if self.leaves_checked == 1 else 'ves'}"
        against = f"{self.index.leaves} leaves at {self.index.commit[:10]}"
        return f"{leaves} checked against {against}: {found or 'no matches'}"


def render_text(report: SimilarReport) -> str:
    lines = [f"{p.path}:{p.line}:{p.col}: {p.severity} [{p.rule}] {p.message}" for p in report.problems]
    lines += [f"{m.changed}: {m.kind} {describe(m)}" for m in report.matches]
    lines.append(report.summary())
    return "\n".join(lines) + "\n"


def render_json(report: SimilarReport) -> str:
    document = {
        "matches": [m.to_json() for m in report.matches],
        "leaves_checked": report.leaves_checked,
        "index": asdict(report.index),
        "problems": [p.to_json() for p in report.problems],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(matches: list[Match]) -> list[str]:
    rows = ["| in this change | also at | what | alike | text |", "|---|---|---|---|---|"]
    for m in matches:
        alike = f"{m.score:g}%" + (f" (answers {m.answer_score:g}%)" if m.answer_score is not None else "")
        rows.append(
            f"| `{m.changed}` | `{m.other}`{' (this change)' if m.other_in_change else ''} | {_NAMES[m.kind]} "
            f"| {alike} | {_cell(comment_safe(m.changed_text, 80))} |"
        )
    return rows


def render_markdown(report: SimilarReport) -> str:
    out = ["### Near-duplicates", "", report.summary(), ""]
    if report.duplicates:
        out += [*_table(report.duplicates), ""]
    contexts = [m for m in report.matches if m.kind is MatchKind.CONTEXT]
    if contexts:
        out += [
            f"<details><summary>Shared contexts ({len(contexts)}): fine when the tasks differ</summary>",
            "",
            *_table(contexts),
            "",
            "</details>",
            "",
        ]
    for p in report.problems:
        out.append(f"- `.taxbot.yaml`: {p.severity}: {_cell(comment_safe(p.message))}")
    return "\n".join(out).rstrip("\n") + "\n"
