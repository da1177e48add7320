"""Renderings of a `gaps` review: plain text, JSON, and markdown for a pull-request comment."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath

from bot.gaps.coverage import Landing, Neighbour, TreeGaps
from bot.gaps.precheck import LeafPrecheck
from bot.safetext import comment_safe
from bot.taxonomy.findings import Finding

SHOWN = 15
"""Short leaves listed in text and markdown; JSON lists them all."""


@dataclass(frozen=True)
class GapsReport:
    tree: TreeGaps
    depth: int  # branch levels shown in text and markdown
    landings: list[Landing] = field(default_factory=list)
    precheck: list[LeafPrecheck] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    problems: list[Finding] = field(default_factory=list)  # in the config


def _depth(branch: str) -> int:
    return len(PurePosixPath(branch).parts)


def _neighbours(found: list[Neighbour]) -> str:
    return ", ".join(f"{PurePosixPath(n.path).parent} ({n.score:g})" for n in found) or "none (the tree has no leaf)"


def _landing_lines(landing: Landing, precheck: LeafPrecheck | None) -> list[str]:
    if not landing.placed:
        where = f"edited in place in {landing.branch}"
    elif landing.new_folders:
        where = f"starts a new branch {landing.new_folders}"
    elif landing.siblings:
        names = ", ".join(PurePosixPath(s).parent.name for s in landing.siblings[:8])
        more = f" and {len(landing.siblings) - 8} more" if len(landing.siblings) > 8 else ""
        where = f"lands in {landing.branch} beside {len(landing.siblings)} leaf(s): {names}{more}"
    else:
        where = f"lands in {landing.branch}, where no leaf is yet"
    lines = [
        where,
        "nearest by path: " + _neighbours(landing.by_path),
        "nearest by content: " + _neighbours(landing.by_content),
    ]
    if elsewhere := landing.elsewhere:
        lines.append(f"its nearest leaves by content are under {elsewhere}, not here: is it in the right place?")
    if precheck is not None:
        lines.append(f"student: {precheck.verdict()}")
    return lines


def render_text(report: GapsReport) -> str:
    tree = report.tree
    out = [f"{p.path}:{p.line}:{p.col}: {p.severity} [{p.rule}] {p.message}" for p in report.problems]
    out.append(f"coverage by branch ({report.depth} level(s); leaves, seed examples, words):")
    for c in tree.coverage:
        if _depth(c.branch) <= report.depth:
            indent = "  " * _depth(c.branch)
            out.append(f"{indent}{c.branch:<{64 - len(indent)}} {c.leaves:>6} {c.seed_examples:>7} {c.words:>9,}")
    out.append(f"empty branches (placeholder files, no leaf): {len(tree.empty_branches) or 'none'}")
    out += [f"  {b}" + (f" (and {n} empty folder(s) inside)" if n else "") for b, n in tree.empty_branches.items()]
    versions = Counter(s.version for s in tree.short_leaves)
    by_version = ", ".join(f"version {v}: {n}" for v, n in sorted(versions.items()))
    out.append(
        f"leaves under {tree.minimum} seed examples: {len(tree.short_leaves) or 'none'}"
        + (f" ({by_version})" if versions else "")
    )
    out += [f"  {s.path}: {s.examples} (version {s.version})" for s in tree.short_leaves[:SHOWN]]
    if len(tree.short_leaves) > SHOWN:
        out.append(f"  ... and {len(tree.short_leaves) - SHOWN} more (--format json lists them all)")
    checked = {p.path: p for p in report.precheck}
    for landing in report.landings:
        out.append(landing.path)
        out += [f"  {line}" for line in _landing_lines(landing, checked.get(landing.path))]
    out += [f"note: {n}" for n in report.notes]
    return "\n".join(out) + "\n"


def render_json(report: GapsReport) -> str:
    document = {
        "coverage": [asdict(c) for c in report.tree.coverage],
        "empty_branches": report.tree.empty_branches,
        "minimum": report.tree.minimum,
        "short_leaves": [asdict(s) for s in report.tree.short_leaves],
        "landings": [asdict(x) for x in report.landings],
        "precheck": [p.to_json() for p in report.precheck],
        "notes": report.notes,
        "problems": [p.to_json() for p in report.problems],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def render_markdown(report: GapsReport) -> str:
    tree = report.tree
    out = ["### Gaps", ""]
    checked = {p.path: p for p in report.precheck}
    for landing in report.landings:
        out.append(f"- `{landing.path}`")
        out += [f"  - {comment_safe(line)}" for line in _landing_lines(landing, checked.get(landing.path))]
    out += ["", "<details><summary>Coverage of the tree</summary>", "", "| branch | leaves | seed examples | words |"]
    out.append("|---|---|---|---|")
    out += [
        f"| `{c.branch}` | {c.leaves} | {c.seed_examples} | {c.words:,} |"
        for c in tree.coverage
        if _depth(c.branch) <= report.depth
    ]
    out += ["", f"Empty branches: {', '.join(f'`{b}`' for b in tree.empty_branches) or 'none'}.", ""]
    out.append(f"Leaves under {tree.minimum} seed examples: {len(tree.short_leaves)}.")
    out += ["", "</details>"]
    out += [f"- note: {comment_safe(n)}" for n in report.notes]
    out += [f"- `.taxbot.yaml`: {p.severity}: {comment_safe(p.message)}" for p in report.problems]
    return "\n".join(out) + "\n"
