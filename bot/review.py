"""The review of a change: lint, and every other part that is available, each failure a note, never a lost review."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from importlib import resources
from typing import Any, cast

import jsonschema

from bot.errors import UsageError
from bot.lint.leaf import LintSettings, lint_changes
from bot.taxonomy.diff import ChangeSet, ChangeStatus, LeafChange
from bot.taxonomy.findings import Finding, Severity, has_errors, sort_findings
from bot.taxonomy.tree import Leaf, parse_leaf
from bot.taxonomy.yamldoc import YamlDocError

REVIEW_SCHEMA_ID = "https://taxbot.dev/schemas/review-1.json"


@dataclass(frozen=True)
class Note:
    """A part of the review that could not be done, or something it wants the reader to know."""

    part: str
    message: str


@dataclass(frozen=True)
class Sample:
    leaf: str
    question: str
    answer: str
    score: int
    context: str | None = None


@dataclass
class PartResult:
    """What one optional part adds: findings for the lines, data for the summary, notes."""

    findings: list[Finding] = field(default_factory=list)
    data: object = None
    notes: list[str] = field(default_factory=list)


Part = Callable[[ChangeSet, dict[str, Leaf]], PartResult]


@dataclass
class Review:
    base: str
    head: str
    changes: list[LeafChange]
    findings: list[Finding]
    parts: dict[str, object] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    pull_request: int | None = None

    @property
    def verdict(self) -> str:
        return "fail" if has_errors(self.findings) else "pass"

    def counts(self) -> tuple[int, int]:
        errors = sum(1 for f in self.findings if f.severity is Severity.ERROR)
        return errors, len(self.findings) - errors

    def to_json(self) -> dict[str, Any]:
        return {
            "$schema": REVIEW_SCHEMA_ID,
            "base": self.base,
            "head": self.head,
            "verdict": self.verdict,
            "changes": [c.to_json() for c in self.changes],
            "findings": [f.to_json() for f in sort_findings(self.findings)],
            "parts": self.parts,
            "samples": [asdict(s) for s in self.samples],
            "notes": [asdict(n) for n in self.notes],
            **({"pull_request": self.pull_request} if self.pull_request is not None else {}),
        }


def render_text(review: Review) -> str:
    """The review for a terminal: the same content as the summary comment, as plain lines."""
    errors, warnings = review.counts()
    verdict = "changes needed" if review.verdict == "fail" else "no errors"
    out = [
        f"taxbot review: {verdict}: {errors} error(s), {warnings} warning(s) in {len(review.changes)} changed "
        f"leaf/leaves ({review.base[:12]}..{review.head[:12]})",
        "",
        "changed leaves:",
    ]
    out += [f"  {c.status:<9} {f'{c.old_path} -> ' if c.old_path else ''}{c.path}" for c in review.changes]
    if not review.changes:
        out.append("  none")
    if review.findings:
        out += ["", "findings:"]
        out += [
            f"  {f.path}:{f.line}:{f.col}: {f.severity} [{f.rule}] {f.message}" for f in sort_findings(review.findings)
        ]
    for name, data in review.parts.items():
        out += ["", f"{name}:"]
        if isinstance(data, list) and data:
            out += ["  " + " · ".join(f"{k}: {v}" for k, v in row.items() if v not in ("", None))
                    if isinstance(row, dict) else f"  {row}" for row in data]  # fmt: skip
        elif isinstance(data, dict) and data:
            out += [f"  {k}: {v}" for k, v in data.items()]
        else:
            out.append("  none found" if isinstance(data, list | dict) else f"  {data}")
    if review.samples:
        out += ["", "sample pairs from the teacher:"]
        for sample in review.samples:
            out += [f"  {sample.leaf} (judged {sample.score}/3)", f"    Q: {sample.question}"]
            out.append(f"    A: {sample.answer}")
    if review.notes:
        out += ["", "notes:"]
        out += [f"  {n.part}: {n.message}" for n in review.notes]
    return "\n".join(out) + "\n"


def review_schema() -> dict[str, Any]:
    return json.loads(resources.files("bot").joinpath("schemas/review.schema.json").read_text(encoding="utf-8"))


class ReportError(UsageError):
    """A review report read back (an artifact from an untrusted run) does not match the schema."""


def review_from_json(data: object) -> Review:
    """A review from its JSON, validated first: the report may come from a run that had no secrets."""
    errors = sorted(jsonschema.Draft202012Validator(review_schema()).iter_errors(data), key=str)
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "the report"
        raise ReportError(f"the review report does not match its schema at {where}: {errors[0].message[:200]}")
    data = cast(Mapping[str, Any], data)  # the schema has just checked its shape
    return Review(
        base=data["base"],
        head=data["head"],
        changes=[LeafChange(c["path"], ChangeStatus(c["status"]), c.get("old_path")) for c in data["changes"]],
        findings=[
            Finding(f["path"], f["line"], f["col"], Severity(f["severity"]), f["rule"], f["message"])
            for f in data["findings"]
        ],
        parts=dict(data["parts"]),
        samples=[Sample(**s) for s in data["samples"]],
        notes=[Note(**n) for n in data["notes"]],
        pull_request=data.get("pull_request"),
    )


def changed_leaf_objects(change_set: ChangeSet) -> dict[str, Leaf]:
    """The changed leaves that parse, read from the head; the others already have lint findings."""
    leaves = {}
    for change in change_set.present:
        entry = change_set.head.entry(change.path)
        if entry is None or entry.is_symlink:
            continue
        try:
            leaves[change.path] = parse_leaf(change.path, entry.read())
        except (YamlDocError, OSError):
            continue
    return leaves


def build_review(
    change_set: ChangeSet, settings: LintSettings, parts: Mapping[str, Part], base: str, head: str
) -> Review:
    """Lint every changed leaf, then run each part; a part that raises becomes a note and the rest go on."""
    review = Review(base, head, change_set.changes, lint_changes(change_set, settings))
    leaves = changed_leaf_objects(change_set)
    for name, part in parts.items():
        try:
            result = part(change_set, leaves)
        except Exception as error:  # a part's failure is the reader's note, never the review's end
            review.notes.append(Note(name, f"{name} could not run: {type(error).__name__}: {error}"))
            continue
        review.findings += result.findings
        if name == "samples" and isinstance(result.data, list):
            review.samples += result.data
        elif result.data is not None:
            review.parts[name] = result.data
        review.notes += [Note(name, message) for message in result.notes]
    return review
