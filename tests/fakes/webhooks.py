"""Real GitHub webhook payloads from ../shared/data, rewritten to point at a fake GitHub's repository."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SHARED_DATA
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import IssueComment, PullRequest, Repository

# What the `github_event` fixture gives: (event, repo, number=None, *, sender=..., comment_body=...) -> path.
GitHubEvent = Callable[..., Path]

WEBHOOKS = SHARED_DATA / "github-webhooks"


def load_webhook(event: str) -> dict[str, Any]:
    """The payload `<event>.json` (e.g. "pull_request.opened") as GitHub sent it; skips when it is absent."""
    path = WEBHOOKS / f"{event}.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return json.loads(path.read_text(encoding="utf-8"))


def webhook_for(
    github: FakeGitHub,
    event: str,
    repo: str,
    number: int | None = None,
    *,
    sender: str | None = None,
    comment_body: str | None = None,
) -> dict[str, Any]:
    """The real `event` payload moved onto `repo` (and pull request `number`) in the fake.

    Every URL, the repository, the pull request (head and base sha, ref and repository, so forks show),
    the issue, check run and workflow run are replaced by the fake's own renderings, keeping the real
    payload's other fields. For an `issue_comment` event the comment is also created in the fake, by
    `sender` (default: the PR's author) with `comment_body`, so the bot can react to it or edit it.
    """
    payload = load_webhook(event)
    target = github.state.repos[repo]
    pull = target.pulls[number] if number is not None else None
    payload = _rewrite_strings(payload, github, target, pull)
    render = github.render
    payload["repository"] = _merge(payload["repository"], _repo(github, target))
    if "organization" in payload:
        payload["organization"] = _merge(payload["organization"], render.org(github.state.user(target.owner)))
    if pull is None:
        return payload
    login = sender or pull.user.login
    payload["sender"] = _merge(payload["sender"], render.user(github.state.user(login)))
    if "number" in payload:
        payload["number"] = pull.number
    if "pull_request" in payload:
        payload["pull_request"] = _merge(payload["pull_request"], render.pull(target, pull))
        for side, owner_repo in (("head", github.state.repos[pull.head_repo]), ("base", target)):
            payload["pull_request"][side]["repo"] = _repo(github, owner_repo)
    if "issue" in payload:
        payload["issue"] = _merge(payload["issue"], render.issue(target, pull))
        if "comment" in payload:
            body = comment_body if comment_body is not None else payload["comment"]["body"]
            payload["comment"] = _merge(payload["comment"], _comment(github, target, pull, login, body))
    if "check_run" in payload:
        run = payload["check_run"]
        run["head_sha"] = run["check_suite"]["head_sha"] = pull.head_sha
        run["check_suite"]["head_branch"] = pull.head_ref
        run["pull_requests"] = run["check_suite"]["pull_requests"] = github.render.pull_refs(target, [pull])
    if "workflow_run" in payload:
        run = payload["workflow_run"]
        run |= {"head_sha": pull.head_sha, "head_branch": pull.head_ref, "event": "pull_request"}
        run["pull_requests"] = github.render.pull_refs(target, [pull])
        run["repository"] = _merge(run["repository"], _repo(github, target))
        run["head_repository"] = _merge(run["head_repository"], _repo(github, github.state.repos[pull.head_repo]))
    return payload


def write_event(payload: dict[str, Any], directory: Path) -> Path:
    """Write `payload` as `event.json` in `directory`, for GITHUB_EVENT_PATH."""
    path = directory / "event.json"
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path


def _rewrite_strings(payload: Any, github: FakeGitHub, target: Repository, pull: PullRequest | None) -> Any:
    """Point every string of the payload at the fake: hosts, the repository's name, shas, the PR's number."""
    original = payload["repository"]["full_name"]
    replacements = [
        ("https://api.github.com", github.url),
        ("https://github.com", github.html_url),
        ("http://github.com", github.html_url),
        ("git://github.com", github.html_url),
        (original, target.full_name),
    ]
    numbers: list[tuple[re.Pattern[str], str]] = []
    old_pull = payload.get("pull_request") or {}
    if pull is not None:
        for old, new in (
            (old_pull.get("head", {}).get("sha"), pull.head_sha),
            (old_pull.get("base", {}).get("sha"), pull.base_sha),
            ((payload.get("check_run") or {}).get("head_sha"), pull.head_sha),
            ((payload.get("workflow_run") or {}).get("head_sha"), pull.head_sha),
        ):
            if old:
                replacements.append((old, new))
        old_number = payload.get("number") or old_pull.get("number") or (payload.get("issue") or {}).get("number")
        if old_number:
            numbers.append((re.compile(rf"/(pulls|issues|pull)/{old_number}(?=$|[/#?.])"), rf"/\1/{pull.number}"))

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: rewrite(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rewrite(item) for item in value]
        if isinstance(value, str):
            for old, new in replacements:
                value = value.replace(old, new)
            for pattern, new in numbers:
                value = pattern.sub(new, value)
        return value

    return rewrite(payload)


def _merge(original: dict[str, Any], fake: dict[str, Any]) -> dict[str, Any]:
    """`original` with `fake`'s values laid over it, nested objects merged key by key."""
    merged = dict(original)
    for key, value in fake.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _repo(github: FakeGitHub, repo: Repository) -> dict[str, Any]:
    rendered = github.render.repo(repo)
    clone = rendered["clone_url"]
    return rendered | {"git_url": clone, "ssh_url": clone, "svn_url": rendered["html_url"]}


def _comment(github: FakeGitHub, repo: Repository, pull: PullRequest, login: str, body: str) -> dict[str, Any]:
    comment = IssueComment(github.state.next_id(), pull.number, github.state.user(login), body)
    repo.issue_comments[comment.id] = comment
    return github.render.issue_comment(repo, comment)
