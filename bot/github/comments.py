"""Renderings of a review for GitHub: the summary comment, the check run, inline comments with suggestions."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from bot.review import Review
from bot.safetext import code_span, comment_safe, url_path
from bot.taxonomy.findings import Finding, Severity, sort_findings

SUMMARY_MARKER = "<!-- taxbot:summary -->"
COMMENT_LIMIT = 65_536
"""GitHub refuses comment bodies longer than this (422 "body is too long")."""
ANNOTATIONS_PER_REQUEST = 50
CHECK_RUN_NAME = "taxbot"

_STATE = re.compile(r"<!-- taxbot:state (\{.*?\}) -->")
_FINDING = re.compile(r"<!-- taxbot:finding ([0-9a-f]{16}) -->")


@dataclass(frozen=True)
class Links:
    """Where the summary links to: the repository's web address and the full report."""

    repo_url: str | None = None
    report_url: str | None = None


def read_state(body: str) -> dict[str, object]:
    """The bot's hidden state in its own summary comment (verdict, approvals, command log)."""
    match = _STATE.search(body)
    if not match:
        return {}
    try:
        state = json.loads(match.group(1))
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def _code(text: str) -> str:
    return code_span(text, 300)


def _blob_link(label: str, links: Links, commit: str, path: str, line: int) -> str:
    """`label` in code, linked to `path` at `commit` when the repository's address is known; the path is
    percent-encoded, so a `)` or a space in it cannot end the link's target."""
    if not links.repo_url:
        return _code(label)
    return f"[{_code(label)}]({links.repo_url}/blob/{url_path(commit)}/{url_path(path)}#L{line})"


def _where(finding: Finding, review: Review, links: Links) -> str:
    return _blob_link(f"{finding.path}:{finding.line}", links, review.head, finding.path, finding.line)


def _cell(text: object, limit: int = 300) -> str:
    return comment_safe(str(text), limit).replace("|", "\\|").replace("\n", " ")


def _part_section(name: str, data: object) -> str:
    title = f"#### {name.capitalize()}\n\n"
    if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
        columns = list(dict.fromkeys(key for row in data for key in row))[:6]
        rows = [f"| {' | '.join(_cell(row.get(c, ''), 120) for c in columns)} |" for row in data[:30]]
        more = f"\n\n… and {len(data) - 30} more in the full report" if len(data) > 30 else ""
        head = f"| {' | '.join(_cell(c) for c in columns)} |\n|{'---|' * len(columns)}\n"
        return title + head + "\n".join(rows) + more
    if isinstance(data, dict):
        return title + "\n".join(f"- **{_cell(k, 80)}**: {_cell(v)}" for k, v in list(data.items())[:30])
    if isinstance(data, list) and not data:
        return title + "None found."
    return title + _cell(data, 2000)


_PLACE = re.compile(r"^(?P<path>[^:\s]+\.ya?ml):(?P<line>\d+)$")


def _place_link(place: object, commit: str, links: Links) -> str:
    """`path:line` as a link to that line at `commit`, when the repository's address is known."""
    match = _PLACE.match(str(place))
    if match is None:
        return _code(str(place))
    return _blob_link(str(place), links, commit, match["path"], int(match["line"]))


def _duplicates_section(rows: list[dict[str, object]], review: Review, links: Links) -> str:
    if not rows:
        return "#### Duplicates\n\nNone found in the tree or inside the change."
    lines = ["#### Duplicates\n", "| in this change | kind | like | score | text there |", "|---|---|---|---|---|"]
    lines += [
        f"| {_place_link(r.get('leaf'), review.head, links)} | {_cell(r.get('kind', ''), 20)} | "
        f"{_place_link(r.get('like'), review.base, links)} | {_cell(r.get('score', ''), 8)} | "
        f"{_cell(r.get('text', ''), 160)} |"
        for r in rows[:30]
    ]
    if len(rows) > 30:
        lines.append(f"\n… and {len(rows) - 30} more in the full report")
    return "\n".join(lines)


def _findings_table(review: Review, links: Links, limit: int) -> str:
    findings = sort_findings(review.findings)
    rows = [
        f"| {_where(f, review, links)} | {'❌' if f.severity is Severity.ERROR else '⚠️'} | {_code(f.rule)} | "
        f"{_cell(f.message, 500)} |"
        for f in findings[:limit]
    ]
    more = f"\n\n… and {len(findings) - limit} more in the full report" if len(findings) > limit else ""
    return "| where | | rule | message |\n|---|---|---|---|\n" + "\n".join(rows) + more


def _samples(review: Review, limit: int) -> str:
    parts = [f"<details><summary>Sample pairs from the teacher ({len(review.samples)})</summary>\n"]
    for sample in review.samples[:limit]:
        parts.append(f"**{_code(sample.leaf)}** (judged {sample.score}/3)\n")
        if sample.context:
            parts.append(f"> {_cell(sample.context, 600)}\n")
        parts.append(f"- **Q:** {_cell(sample.question, 600)}\n- **A:** {_cell(sample.answer, 1200)}\n")
    parts.append("</details>")
    return "\n".join(parts)


def render_summary(review: Review, links: Links = Links(), state: dict[str, object] | None = None,
                   limit: int = COMMENT_LIMIT) -> str:  # fmt: skip
    """The summary comment: verdict, changed leaves, findings with links, parts, samples, notes; under `limit`."""
    state = {**(state or {}), "verdict": review.verdict, "head": review.head}
    errors, warnings = review.counts()
    icon = "❌ changes needed" if review.verdict == "fail" else "✅ no errors"
    header = [
        SUMMARY_MARKER,
        f"<!-- taxbot:state {json.dumps(state, separators=(',', ':'))} -->",
        f"### taxbot review: {icon}",
        f"Head {_code(review.head[:12])} · {len(review.changes)} leaf change(s) · {errors} error(s) · "
        f"{warnings} warning(s)",
    ]
    per_leaf: Counter[tuple[str, Severity]] = Counter((f.path, f.severity) for f in review.findings)
    changes = ["| leaf | change | errors | warnings |", "|---|---|---|---|"] + [
        f"| {_code(c.path)} | {c.status}{' from ' + _code(c.old_path) if c.old_path else ''} | "
        f"{per_leaf[(c.path, Severity.ERROR)]} | {per_leaf[(c.path, Severity.WARNING)]} |"
        for c in review.changes[:100]
    ]
    notes = [f"- **{_cell(n.part, 40)}**: {_cell(n.message, 800)}" for n in review.notes[:50]]
    log = state.get("commands")
    footer = []
    if isinstance(log, list) and log:
        footer.append("#### Commands\n\n" + "\n".join(f"- {_cell(entry, 300)}" for entry in log[-10:]))
    report = f"[full report]({links.report_url}) · " if links.report_url else ""
    footer.append(f"<sub>{report}comment `/taxbot help` for commands</sub>")
    for findings_limit, samples_limit in ((200, 20), (50, 5), (10, 0)):
        sections = ["\n".join(header), "#### Changed leaves\n\n" + "\n".join(changes)]
        if review.findings:
            sections.append("#### Findings\n\n" + _findings_table(review, links, findings_limit))
        for name, data in review.parts.items():
            if name == "duplicates" and isinstance(data, list):
                sections.append(_duplicates_section([r for r in data if isinstance(r, dict)], review, links))
            else:
                sections.append(_part_section(name, data))
        if review.samples and samples_limit:
            sections.append(_samples(review, samples_limit))
        if notes:
            sections.append("#### Notes\n\n" + "\n".join(notes))
        body = "\n\n".join(sections + footer)
        if len(body) <= limit:
            return body
    return body[: limit - 80] + "\n\n… cut to fit GitHub's comment size; see the full report"


def check_run_output(review: Review) -> tuple[str, str, list[dict[str, object]]]:
    """Title, summary and annotations (all of them; the caller sends them 50 per request)."""
    errors, warnings = review.counts()
    title = f"{errors} error(s), {warnings} warning(s) in {len(review.changes)} changed leaf/leaves"
    summary = "No errors." if review.verdict == "pass" else "Fix the errors annotated on the files."
    annotations = [
        {
            "path": f.path,
            "start_line": f.line,
            "end_line": f.line,
            "annotation_level": "failure" if f.severity is Severity.ERROR else "warning",
            "title": f.rule,
            "message": comment_safe(f.message, 4000),
        }
        for f in sort_findings(review.findings)
    ]
    return title, summary, annotations


_LINE_NUMBERS = re.compile(r"\b(lines?) \d+(?:-\d+)?")


def finding_ids(findings: Iterable[Finding], lines: dict[str, list[str]]) -> list[tuple[Finding, str]]:
    """An identity for each finding that survives lines moving: the file, the rule, the message without
    line numbers, the text of its line, and which of several such findings it is, never the line number.
    A push that inserts a line above a finding keeps its id, so its comment is neither resolved nor posted
    again. Sorted by place."""
    ids: list[tuple[Finding, str]] = []
    seen: Counter[tuple[str, ...]] = Counter()
    for finding in sort_findings(list(findings)):
        text = lines.get(finding.path, [])
        line_text = text[finding.line - 1].strip() if 0 < finding.line <= len(text) else ""
        key = (finding.path, finding.rule, _LINE_NUMBERS.sub(r"\1 N", finding.message), line_text)
        seen[key] += 1
        blob = json.dumps([*key, seen[key]])
        ids.append((finding, hashlib.sha256(blob.encode()).hexdigest()[:16]))
    return ids


def posted_finding_id(body: str) -> str | None:
    match = _FINDING.search(body)
    return match.group(1) if match else None


def _suggestion(finding: Finding, line_text: str | None) -> str:
    """A ```suggestion block where the fix is mechanical (trailing spaces, tabs)."""
    if line_text is None:
        return ""
    fixed = None
    if finding.rule == "yamllint/trailing-spaces":
        fixed = line_text.rstrip()
    elif finding.rule == "tab":
        fixed = line_text.expandtabs(2)
    elif finding.rule == "yaml-boolean":
        fixed = re.sub(r":\s+(yes|no|on|off|y|n)\s*$", lambda m: f': "{m.group(1)}"', line_text, flags=re.I)
        fixed = None if fixed == line_text else fixed
    if fixed is None or "```" in fixed:
        return ""
    return f"\n\n```suggestion\n{fixed}\n```"


def inline_comments(
    review: Review, commentable: dict[str, set[int]], lines: dict[str, list[str]]
) -> list[dict[str, object]]:
    """Review comments for findings on lines the pull request changed; each carries its own id."""
    comments = []
    for finding, fid in finding_ids(review.findings, lines):
        if finding.line not in commentable.get(finding.path, set()):
            continue
        text = lines.get(finding.path, [])
        line_text = text[finding.line - 1] if 0 < finding.line <= len(text) else None
        level = "**error**" if finding.severity is Severity.ERROR else "warning"
        body = (f"<!-- taxbot:finding {fid} -->\n{level} {_code(finding.rule)}: "
                f"{comment_safe(finding.message, 2000)}{_suggestion(finding, line_text)}")  # fmt: skip
        comments.append({"path": finding.path, "line": finding.line, "side": "RIGHT", "body": body})
    return comments


def commentable_lines(patch: str | None) -> set[int]:
    """Right-side line numbers a review comment may be placed on: the lines a unified diff shows."""
    lines: set[int] = set()
    if not patch:
        return lines
    number = 0
    for row in patch.splitlines():
        if row.startswith("@@"):
            match = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)", row)
            number = int(match.group(1)) if match else 0
        elif row.startswith("-"):
            continue
        elif number:
            lines.add(number)
            number += 1
    return lines


def with_command_log(body: str, entry: str, state_update: dict[str, object] | None = None) -> str:
    """The summary `body` with `entry` added to its command log (and its state updated), nothing else changed."""
    state = read_state(body)
    log = state.get("commands") if isinstance(state.get("commands"), list) else []
    state["commands"] = [*log, entry][-20:]  # type: ignore[misc]
    state.update(state_update or {})
    marker = f"<!-- taxbot:state {json.dumps(state, separators=(',', ':'))} -->"
    body = _STATE.sub(lambda _: marker, body, count=1) if _STATE.search(body) else f"{SUMMARY_MARKER}\n{marker}\n{body}"
    section = "#### Commands\n\n" + "\n".join(f"- {_cell(e, 300)}" for e in state["commands"][-10:])  # type: ignore[index]
    if "#### Commands" in body:
        return re.sub(r"#### Commands\n\n(?:- .*\n?)*", lambda _: section + "\n", body, count=1).rstrip() + "\n"
    if "<sub>" in body:
        head, _, tail = body.rpartition("<sub>")
        return f"{head}{section}\n\n<sub>{tail}"
    return f"{body}\n\n{section}"
