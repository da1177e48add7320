"""The trial's one comment on the pull request, its labels, and the stale mark after a new push."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from github.Issue import Issue
from github.IssueComment import IssueComment
from github.PullRequest import PullRequest
from github.Repository import Repository

from bot.release.gate import GROUP_TITLES
from bot.release.trial import FAILED, IMPROVED, NO_GAIN, RESULT_KIND, STATUSES, STOPPED
from bot.safetext import comment_safe

MARKER = "<!-- taxbot:trial -->"
_STATE = re.compile(r"<!-- taxbot:trial-state (\{[^<>]*\}) -->")
_SHA = re.compile(r"^[0-9a-f]{40}$")
STALE_TITLE = "**Stale:**"
MAX_ANSWERS = 30


class TrialResultError(Exception):
    """The result handed to `taxbot trial post` is not a trial result; nothing is written."""


def read_result(text: str) -> dict[str, Any]:
    """A trial result, checked before anything reaches GitHub: the numbers are numbers, the commits hex."""
    try:
        result = json.loads(text)
    except ValueError as error:
        raise TrialResultError(f"not JSON ({error})") from error
    problems = []
    if not isinstance(result, dict) or result.get("kind") != RESULT_KIND:
        raise TrialResultError(f"not a {RESULT_KIND} result")
    pull = result.get("pull")
    if not isinstance(pull, int) or isinstance(pull, bool) or pull < 1:
        problems.append(f"`pull` must be a pull request number, found {pull!r}")
    if not isinstance(result.get("head"), str) or not _SHA.match(result["head"]):
        problems.append("`head` must be a full commit sha")
    if result.get("base") is not None and not (isinstance(result["base"], str) and _SHA.match(result["base"])):
        problems.append("`base` must be a full commit sha")
    if result.get("status") not in STATUSES:
        problems.append(f"`status` must be one of {', '.join(STATUSES)}")
    for key in ("records", "replayed", "replayed_seeds", "steps"):  # written into the comment as they are
        count = result.get(key)
        if count is not None and (not isinstance(count, int) or isinstance(count, bool) or count < 0):
            problems.append(f"`{key}` must be a count, found {count!r}")
    if problems:
        raise TrialResultError("; ".join(problems))
    return result


def _cell(text: object, limit: int = 300) -> str:
    return comment_safe(str(text), limit).replace("|", "\\|").replace("\n", " ")


def _number(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, int | float) and not isinstance(value, bool) else "?"


def _change(group: Mapping[str, Any]) -> str:
    try:
        return f"{float(group['candidate']) - float(group['previous']):+.3f}"
    except (KeyError, TypeError, ValueError):
        return "?"


def _table(rows: list[Mapping[str, Any]], first: str, name: Callable[[str], str]) -> list[str]:
    lines = [f"| {first} | questions | release | trial | change |", "| --- | ---: | ---: | ---: | ---: |"]
    for row in rows:
        scores = f"{_number(row.get('previous'))} | {_number(row.get('candidate'))} | {_change(row)}"
        lines.append(f"| {name(str(row.get('name', '')))} | {_cell(row.get('questions', ''), 10)} | {scores} |")
    return lines


def render_trial_comment(result: Mapping[str, Any], run_url: str | None) -> str:
    """The comment: verdict, what was trained, the gate's tables, the seed questions answered side by side."""
    head, status = str(result["head"]), str(result["status"])
    state = json.dumps({"head": head, "status": status})
    icon = {IMPROVED: "✅", NO_GAIN: "➖", STOPPED: "⏸️", FAILED: "❌"}[status]
    lines = [MARKER, f"<!-- taxbot:trial-state {state} -->",
             f"### {icon} taxbot trial: {_cell(result.get('verdict', ''), 2000)}", ""]  # fmt: skip
    run = f" ([run]({run_url}))" if run_url else ""
    release = _cell(result.get("release") or "the base model", 200)
    if result.get("steps") is not None:
        leaves = len(result.get("leaves") or [])
        seeds = f" ({n} of them other leaves' seed examples)" if (n := result.get("replayed_seeds")) else ""
        lines.append(f"Head `{head[:12]}`: a LoRA adapter of {result['steps']} steps on {result.get('records')} "
                     f"generated pairs of {leaves} {'leaf' if leaves == 1 else 'leaves'} and {result.get('replayed')} "
                     f"replayed ones{seeds}, on top of `{release}`{run}. Nothing was published.")  # fmt: skip
    else:
        lines.append(f"Head `{head[:12]}`, tried on top of `{release}`{run}. Nothing was published.")
    gate = result.get("gate")
    if isinstance(gate, dict):
        scale = _cell(gate.get("metric", ""), 40) + (" averaged with the teacher's grade" if gate.get("judged") else "")
        lines += ["", f"Scores 0-1 ({scale}), greedy answers of the release and of the trial model:", ""]
        lines += _table(list(gate.get("groups") or []), "set", lambda n: GROUP_TITLES.get(n, _cell(n, 40)))
        if gate.get("leaves"):
            lines += ["", *_table(list(gate["leaves"]), "changed leaf", lambda n: f"`{_cell(n, 200)}`")]
        answers = list(gate.get("answers") or [])
        if answers:
            lines += ["", f"<details><summary>The pull request's seed questions ({len(answers)})</summary>", ""]
            for item in answers[:MAX_ANSWERS]:
                lines += [f"**{_cell(item.get('question', ''), 400)}**", "",
                          f"- expected: {_cell(item.get('reference', ''), 400)}",
                          f"- release ({_number(item.get('previous_score'))}): {_cell(item.get('previous', ''), 400)}",
                          f"- trial ({_number(item.get('candidate_score'))}): {_cell(item.get('candidate', ''), 400)}",
                          ""]  # fmt: skip
            if len(answers) > MAX_ANSWERS:
                lines.append(f"… and {len(answers) - MAX_ANSWERS} more in the run's artifact")
            lines.append("</details>")
    lines += ["", "<sub>A maintainer's `/taxbot trial` runs it again for a new head; the same head is never "
              "trained twice.</sub>"]  # fmt: skip
    return "\n".join(lines) + "\n"


def comment_state(body: str) -> dict[str, Any] | None:
    """The trial's head and status from its own comment; None for any other comment."""
    if not body.startswith(MARKER) or not (match := _STATE.search(body)):
        return None
    try:
        state = json.loads(match.group(1))
    except ValueError:
        return None
    return state if isinstance(state, dict) else None


def stale_body(body: str, current_head: str) -> str:
    """The comment with a note that the pull request moved on since the trial's head (once)."""
    if STALE_TITLE in body:
        return body
    state = comment_state(body) or {}
    note = (f"> {STALE_TITLE} this trial is of `{str(state.get('head', ''))[:12]}`; the pull request is now at "
            f"`{current_head[:12]}`. A maintainer's `/taxbot trial` tries the new head.\n")  # fmt: skip
    first, _, rest = body.partition("\n")
    second, _, rest = rest.partition("\n")
    return f"{first}\n{second}\n{note}{rest}"


def _own_comment(issue: Issue, bot_login: str | None) -> IssueComment | None:
    for comment in issue.get_comments():
        if comment.body.startswith(MARKER) and (bot_login is None or comment.user.login == bot_login):
            return comment
    return None


def _set_labels(issue: Issue, labels: Mapping[str, str], keep: str | None) -> None:
    """The trial's labels moved: `keep` on (if any), the other trial label off."""
    present = {label.name for label in issue.get_labels()}
    for name in labels.values():
        if name != keep and name in present:
            issue.remove_from_labels(name)
    if keep is not None and keep not in present:
        issue.add_to_labels(keep)


@dataclass(frozen=True)
class Posted:
    pull: int
    stale: bool
    label: str | None


def post_trial(
    repo: Repository, result: Mapping[str, Any], labels: Mapping[str, str], run_url: str | None, bot_login: str | None
) -> Posted:
    """Write the one trial comment (edited in place) and move the labels. A head the pull request has left
    behind gets its comment marked stale and no label."""
    pull: PullRequest = repo.get_pull(int(result["pull"]))
    issue = repo.get_issue(pull.number)
    body = render_trial_comment(result, run_url)
    stale = pull.head.sha != result["head"]
    if stale:
        body = stale_body(body, pull.head.sha)
    mine = _own_comment(issue, bot_login)
    if mine is None:
        issue.create_comment(body)
    elif mine.body != body:
        mine.edit(body)
    keep = labels.get(str(result["status"])) if not stale else None
    _set_labels(issue, labels, keep)
    return Posted(pull.number, stale, keep)


def mark_stale(repo: Repository, labels: Mapping[str, str], bot_login: str | None) -> list[int]:
    """Open pull requests with a trial label whose head moved past their trial: comment marked, labels off.
    Only labelled pull requests are read, so this is cheap to run on every push."""
    marked = []
    for pull in repo.get_pulls(state="open"):
        if not {label.name for label in pull.labels} & set(labels.values()):
            continue
        issue = repo.get_issue(pull.number)
        mine = _own_comment(issue, bot_login)
        state = comment_state(mine.body) if mine is not None else None
        if mine is None or state is None or state.get("head") == pull.head.sha:
            continue
        if (body := stale_body(mine.body, pull.head.sha)) != mine.body:
            mine.edit(body)
        _set_labels(issue, labels, None)
        marked.append(pull.number)
    return marked
