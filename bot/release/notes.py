"""What a release says: its notes (model card body, GitHub release), its comment on each pull request."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from bot.release.gate import SAFETY, GateReport, render_gate, scoring_line
from bot.safetext import code_span, comment_safe

MARKER = "<!-- taxbot:release -->"
RELEASE_BODY_LIMIT = 125_000
"""GitHub refuses a release whose body is longer (422 "body is too long (maximum is 125000 characters)")."""
CURVES_PNG = "loss_curves.png"

_MERGE = re.compile(r"^Merge pull request #(\d+)\b")
_SQUASH = re.compile(r"\(#(\d+)\)\s*$")


def pull_numbers(messages: Iterable[str]) -> list[int]:
    """Pull requests named by commit messages: merge commits ("Merge pull request #12 from ...") and squash
    merges ("Add a leaf (#12)"), both on the first line."""
    numbers: set[int] = set()
    for message in messages:
        first = message.strip().splitlines()[0] if message.strip() else ""
        for pattern in (_MERGE, _SQUASH):
            if match := pattern.search(first):
                numbers.add(int(match.group(1)))
    return sorted(numbers)


@dataclass(frozen=True)
class LeafNote:
    path: str
    status: str  # added, modified, renamed or deleted
    created_by: str | None = None


@dataclass(frozen=True)
class ReleaseFacts:
    """Everything the notes say, gathered by the release before it renders them."""

    tag: str
    taxonomy_commit: str
    hub_repo: str
    hub_url: str  # the Hub's web address, e.g. https://huggingface.co
    base_model: str
    gate: GateReport
    leaves: list[LeafNote] = field(default_factory=list)
    pulls: dict[int, str | None] = field(default_factory=dict)  # number -> author login, when known
    previous_commit: str | None = None
    training: Mapping[str, Mapping[str, object]] = field(default_factory=dict)  # phase -> steps, samples, loss
    taxonomy_url: str | None = None  # the taxonomy's GitHub web address, for links
    pull_leaves: Mapping[int, Sequence[str]] = field(default_factory=dict)  # number -> the leaves it changed

    @property
    def model_url(self) -> str:
        return f"{self.hub_url}/{self.hub_repo}"

    @property
    def contributors(self) -> list[str]:
        """created_by of the leaves this release brings, and the authors of its pull requests."""
        names = {leaf.created_by for leaf in self.leaves if leaf.created_by and leaf.status != "deleted"}
        names |= {author for author in self.pulls.values() if author}
        return sorted(names, key=str.casefold)


def _commit(facts: ReleaseFacts, sha: str) -> str:
    return f"[`{sha[:7]}`]({facts.taxonomy_url}/commit/{sha})" if facts.taxonomy_url else f"`{sha[:7]}`"


def _pull(facts: ReleaseFacts, number: int) -> str:
    return f"[#{number}]({facts.taxonomy_url}/pull/{number})" if facts.taxonomy_url else f"#{number}"


def _leaf_table(facts: ReleaseFacts) -> list[str]:
    rows = ["| leaf | change | created by |", "| --- | --- | --- |"]
    return rows + [f"| {code_span(leaf.path)} | {leaf.status} | "
                   f"{comment_safe(leaf.created_by or '-', 80).replace('|', chr(92) + '|')} |"
                   for leaf in facts.leaves]  # fmt: skip


def _leaf_counts(facts: ReleaseFacts) -> list[str]:
    """Counts per top-level branch and change, for a release too large to list every leaf."""
    counts = Counter((leaf.path.split("/")[0], leaf.status) for leaf in facts.leaves)
    statuses = sorted({status for _, status in counts})
    branches = sorted({branch for branch, _ in counts})
    where = f" ({facts.taxonomy_url}/tree/{facts.taxonomy_commit})" if facts.taxonomy_url else ""
    rows = [f"{len(facts.leaves):,} leaves, too many to list here; the tree at this commit{where} has them all.",
            "", "| branch | " + " | ".join(statuses) + " |", "| --- |" + " ---: |" * len(statuses)]  # fmt: skip
    rows += [f"| {code_span(b)} | " + " | ".join(str(counts[(b, st)]) for st in statuses) + " |" for b in branches]
    return rows


def release_notes(facts: ReleaseFacts, curves_image: str = CURVES_PNG, limit: int = RELEASE_BODY_LIMIT) -> str:
    """Markdown notes: commit, leaves, pull requests, contributors, the gate's table, training and its curves.
    Under GitHub's `limit` for a release body: a release too large (the first of a big tree) gives counts
    per branch instead of every leaf, then the number of pull requests and contributors instead of lists."""
    for detail in ("full", "leaf counts", "counts only"):
        notes = _render(facts, curves_image, detail)
        if len(notes) <= limit:
            return notes
    return notes[: limit - 80] + "\n\n… cut to fit GitHub's limit on a release's notes\n"


def _render(facts: ReleaseFacts, curves_image: str, detail: str) -> str:
    since = f" (previous release: {_commit(facts, facts.previous_commit)})" if facts.previous_commit else ""
    lines = [
        f"Taxonomy commit {_commit(facts, facts.taxonomy_commit)}{since}, model [`{facts.hub_repo}`]"
        f"({facts.model_url}/tree/{facts.tag}) at tag `{facts.tag}`, tuned from `{facts.base_model}` the LAB way "
        "(knowledge, then skills).",
        "",
        "### Leaves in this release",
        "",
    ]
    if not facts.leaves:
        lines.append("No leaf was added, changed or removed.")
    else:
        lines += _leaf_table(facts) if detail == "full" else _leaf_counts(facts)
    lines += ["", "### Pull requests", ""]
    if not facts.pulls:
        lines.append("None found in the commits since the previous release.")
    elif detail == "counts only":
        lines.append(f"{len(facts.pulls):,} pull requests, from {_pull(facts, min(facts.pulls))} "
                     f"to {_pull(facts, max(facts.pulls))}.")  # fmt: skip
    else:
        for number, author in sorted(facts.pulls.items()):
            lines.append(f"- {_pull(facts, number)}" + (f" by @{author}" if author else ""))
    if detail == "counts only":
        contributors = f"{len(facts.contributors):,} people"
    else:
        contributors = ", ".join(comment_safe(name, 80) for name in facts.contributors) or "-"
    lines += ["", "### Contributors", "", contributors, "", "### Gate", "", render_gate(facts.gate).rstrip()]
    if facts.training:
        lines += ["", "### Training", "", "| phase | samples | steps | final loss |", "| --- | ---: | ---: | ---: |"]
        for phase, numbers in facts.training.items():
            loss = numbers.get("final_loss")
            shown = f"{loss:.4f}" if isinstance(loss, float) else "-"
            lines.append(f"| {phase} | {numbers.get('samples', '-')} | {numbers.get('steps', '-')} | {shown} |")
        lines += ["", f"![Training loss of both phases]({curves_image})"]
    return "\n".join(lines) + "\n"


def pull_comment(facts: ReleaseFacts, release_url: str | None, number: int) -> str:
    """The comment on a merged pull request: which release carries it, and how the gate saw its own leaves (not
    the average of all the release's leaves), and the safety set."""
    lines = [
        MARKER,
        f"This pull request is in release **{facts.tag}** of [`{facts.hub_repo}`]({facts.model_url}/tree/{facts.tag}).",
    ]
    own = list(facts.pull_leaves.get(number, ()))
    scored = [leaf for leaf in facts.gate.leaves if leaf.name in own]
    if scored:
        rows = [f"| `{comment_safe(leaf.name, 200)}` | {leaf.questions} | {leaf.previous:.3f} | {leaf.candidate:.3f} "
                f"| {leaf.change:+.3f} |" for leaf in scored]  # fmt: skip
        lines.append(
            f"How the gate saw this pull request's leaves ({scoring_line(facts.gate)}):\n\n"
            "| leaf | questions | previous release | this release | change |\n| --- | ---: | ---: | ---: | ---: |\n"
            + "\n".join(rows)
        )
        flat = [leaf.name for leaf in scored if leaf.change <= 0]
        if flat:
            lines.append("No gain on its own seeds: " + ", ".join(f"`{comment_safe(name, 200)}`" for name in flat))
    elif own:
        lines.append("The gate asked none of this pull request's leaves (removed or renamed away).")
    if (safety := next((g for g in facts.gate.groups if g.name == SAFETY), None)) is not None:
        lines.append(
            f"On the {safety.questions} questions of the safety set, the release scores {safety.candidate:.3f} "
            f"against {safety.previous:.3f} for the previous one."
        )
    if release_url:
        lines.append(f"Release notes: {release_url}")
    return "\n\n".join(lines) + "\n"
