"""What the trusted run believes, and only from GitHub: which pull request a workflow run was for, who may
command the bot, and whether a maintainer approved the exact head commit of a fork's pull request."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from github import Github, GithubException, UnknownObjectException
from github.PullRequest import PullRequest
from github.Repository import Repository

from bot.github.client import GITHUB_FAILURES, describe
from bot.github.commands import is_bot

SHA = re.compile(r"^[0-9a-f]{40}$")
_APPROVE = re.compile(r"^\s*/taxbot\s+approve\s+([0-9a-f]{40})\s*$", re.MULTILINE)


class NotForUs(Exception):
    """The event names nothing taxbot should act on; the message says why (logged, exit 0)."""


@dataclass(frozen=True)
class RunHead:
    """What a `workflow_run` event says about the run's code, as GitHub recorded it (never the artifact)."""

    sha: str
    repository: str  # owner/name the head commit came from (a fork's, for a fork's pull request)
    branch: str


def run_head(event: dict[str, Any]) -> RunHead:
    """The head of a completed `pull_request` workflow run; NotForUs for any other run."""
    run = event.get("workflow_run")
    if not isinstance(run, dict):
        raise NotForUs("the event has no workflow_run")
    if run.get("event") not in ("pull_request", "pull_request_target"):
        raise NotForUs(f"the workflow run was for a {run.get('event')!r} event, not a pull request")
    sha, head_repo = str(run.get("head_sha", "")), run.get("head_repository") or {}
    if not SHA.match(sha) or not isinstance(head_repo, dict) or "/" not in str(head_repo.get("full_name", "")):
        raise NotForUs("the workflow run names no head commit and repository")
    return RunHead(sha, str(head_repo["full_name"]), str(run.get("head_branch") or ""))


def pulls_for_run(repo: Repository, head: RunHead, listed: list[int]) -> list[PullRequest]:
    """The open pull requests of `repo` whose head is exactly `head` (commit and repository).

    `workflow_run.pull_requests` is empty for a fork's pull request, so the open pull requests of the head
    branch are listed as well; every candidate is read back from GitHub and kept only if its head matches.
    """
    candidates: dict[int, PullRequest] = {}
    for number in listed:
        try:
            candidates[number] = repo.get_pull(number)
        except UnknownObjectException:
            continue
    owner = head.repository.split("/")[0]
    if head.branch:
        for pull in repo.get_pulls(state="open", head=f"{owner}:{head.branch}"):
            candidates.setdefault(pull.number, pull)
    return [
        pull
        for _, pull in sorted(candidates.items())
        if pull.state == "open"
        and pull.head.sha == head.sha
        and pull.head.repo is not None
        and pull.head.repo.full_name == head.repository
    ]


def is_fork(repo: Repository, pull: PullRequest) -> bool:
    """A pull request whose head lives in another repository (or a deleted one)."""
    return pull.head.repo is None or pull.head.repo.full_name != repo.full_name


def role_of(repo: Repository) -> Callable[[str], str]:
    def role(login: str) -> str:
        try:
            return repo.get_collaborator_permission(login)
        except GITHUB_FAILURES:
            return "none"  # fail closed

    return role


def team_membership(gh: Github, log: Callable[[str], None]) -> Callable[[str, str, str], bool]:
    """`in_team(org, slug, login)`: GitHub's membership endpoint, state `active` only (an invitation that
    is still pending is not membership). GITHUB_TOKEN cannot read an organisation's teams: GitHub answers
    403, or 404 for a team the token cannot see, and the log says so."""

    def in_team(org: str, slug: str, login: str) -> bool:
        try:
            _, data = gh.requester.requestJsonAndCheck("GET", f"/orgs/{org}/teams/{slug}/memberships/{login}")
        except GithubException as error:
            if error.status == 403:
                log(f"taxbot: the token cannot read the teams of {org} ({describe(error)}); team access needs "
                    "a GitHub App installation token with the organisation's Members: read permission")  # fmt: skip
            elif error.status == 404:
                log(f"taxbot: {login} is not an active member of {org}/{slug}, or the token cannot see that team")
            else:
                log(f"taxbot: cannot read {org}/{slug}'s membership of {login}: {describe(error)}")
            return False  # fail closed
        except GITHUB_FAILURES as error:
            log(f"taxbot: cannot read {org}/{slug}'s membership of {login}: {describe(error)}")
            return False
        return isinstance(data, dict) and data.get("state") == "active"

    return in_team


def approval_in(body: str) -> str | None:
    """The head commit a `/taxbot approve <full sha>` comment names."""
    match = _APPROVE.search(body or "")
    return match.group(1) if match else None


def approved_head(
    repo: Repository, pull: PullRequest, state: dict[str, object], may_command: Callable[[str], bool]
) -> str | None:
    """Why the current head of `pull` is NOT approved for work that spends secrets, or None when it is.

    The approval recorded in the bot's own summary counts only if the comment it came from still exists,
    still names this exact head, was written by a person who may still command the bot, and was not edited
    (GitHub's `updated_at` moves on an edit). The comment names the full commit, so it was written after
    that commit existed: an approval given before a push approves nothing that was pushed since.
    """
    head = pull.head.sha
    if state.get("approved") != head or not isinstance(state.get("approval"), int):
        return f"a maintainer's `/taxbot approve {head}` (a fork's pull request)"
    try:
        comment = repo.get_issue(pull.number).get_comment(int(state["approval"]))  # type: ignore[arg-type]
    except UnknownObjectException:
        return "the approving comment was deleted"
    if approval_in(comment.body) != head:
        return f"the approving comment no longer names `{head[:12]}`"
    if comment.updated_at and comment.created_at and comment.updated_at > comment.created_at:
        return "the approving comment was edited"
    if is_bot(comment.user.login, comment.user.type) or not may_command(comment.user.login):
        return f"{comment.user.login} may not approve"
    return None


def may_command(access_allows: Callable[[str, Callable[[str], str], Callable[[str, str, str], bool]], bool],
                repo: Repository, gh: Github, log: Callable[[str], None]) -> Callable[[str], bool]:  # fmt: skip
    """`allowed(login)` for `Access.allows`, with the repository's roles and the teams' memberships."""
    return lambda login: access_allows(login, role_of(repo), team_membership(gh, log))

