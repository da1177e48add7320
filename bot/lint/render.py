"""Renderings of findings: plain text, GitHub workflow commands with a step summary, and JSON."""

from __future__ import annotations

import json
from collections import Counter

from bot.taxonomy.findings import Finding, Severity, sort_findings

GITHUB_ANNOTATIONS_PER_TYPE = 10
"""GitHub shows at most 10 error and 10 warning annotations per step; the rest go to the summary."""


def render_text(findings: list[Finding], files_checked: int) -> str:
    lines = [f"{f.path}:{f.line}:{f.col}: {f.severity} [{f.rule}] {f.message}" for f in sort_findings(findings)]
    lines.append(summary_line(findings, files_checked))
    return "\n".join(lines) + "\n"


def summary_line(findings: list[Finding], files_checked: int) -> str:
    counts = Counter(f.severity for f in findings)
    errors, warnings = counts[Severity.ERROR], counts[Severity.WARNING]
    files = f"{files_checked} file{'s' if files_checked != 1 else ''}"
    if not findings:
        return f"{files} checked: all clean"
    with_errors = len({f.path for f in findings if f.severity is Severity.ERROR})
    return f"{files} checked: {errors} error(s) in {with_errors} file(s), {warnings} warning(s)"


def render_json(findings: list[Finding], extra: dict[str, object] | None = None) -> str:
    document: dict[str, object] = {"findings": [f.to_json() for f in sort_findings(findings)]}
    if extra:
        document.update(extra)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _escape_data(text: str) -> str:
    # Workflow command data: %, CR and LF must be percent-encoded or the command is cut short.
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _annotated(findings: list[Finding]) -> tuple[list[Finding], list[Finding]]:
    """The findings GitHub shows as annotations, and the ones past its cap of each kind."""
    shown: list[Finding] = []
    overflow: list[Finding] = []
    count: Counter[Severity] = Counter()
    for f in sort_findings(findings):
        (overflow if count[f.severity] >= GITHUB_ANNOTATIONS_PER_TYPE else shown).append(f)
        count[f.severity] += 1
    return shown, overflow


def render_overflow_text(findings: list[Finding]) -> str:
    """The findings past GitHub's annotation cap as text lines: where no step summary takes them (a run
    outside Actions), they go to stdout after the workflow commands instead of vanishing."""
    _, overflow = _annotated(findings)
    if not overflow:
        return ""
    lines = [f"{f.path}:{f.line}:{f.col}: {f.severity} [{f.rule}] {f.message}" for f in overflow]
    head = f"GitHub shows {GITHUB_ANNOTATIONS_PER_TYPE} annotations of each kind per step; the other {len(overflow)}:"
    return "\n".join([head, *lines]) + "\n"


def render_github(findings: list[Finding], files_checked: int) -> tuple[str, str]:
    """Workflow commands for stdout, and markdown for $GITHUB_STEP_SUMMARY with whatever did not fit."""
    commands = []
    shown, overflow = _annotated(findings)
    for f in shown:
        props = f"file={_escape_property(f.path)},line={f.line},col={f.col},title={_escape_property(f.rule)}"
        commands.append(f"::{f.severity} {props}::{_escape_data(f.message)}")
    summary = [f"### taxbot lint\n\n{summary_line(findings, files_checked)}\n"]
    if overflow:
        summary.append(
            f"GitHub shows {GITHUB_ANNOTATIONS_PER_TYPE} annotations of each kind per step; "
            f"the other {len(overflow)} finding(s):\n"
        )
        summary.append("| file | line | severity | rule | message |\n|---|---|---|---|---|")
        summary += [
            f"| `{f.path}` | {f.line}:{f.col} | {f.severity} | `{f.rule}` | {_markdown_cell(f.message)} |"
            for f in overflow
        ]
    commands.append(summary_line(findings, files_checked))
    return "\n".join(commands) + "\n", "\n".join(summary) + "\n"


def _markdown_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
