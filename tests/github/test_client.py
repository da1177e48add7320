"""Writes that survive real GitHub: rate limits in GitHub's own shapes, 5xx on edits, and creations whose
answer was lost behind a 502 (done once, never twice)."""

from __future__ import annotations

import time

import pytest

from bot.github.client import GitHubSettings, connect
from bot.github.comments import Links
from bot.github.publish import Target, publish_review, upsert_check_run, upsert_summary
from bot.review import Review
from bot.taxonomy.diff import ChangeStatus, LeafChange
from bot.taxonomy.findings import Finding, Severity
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import added_file

REPO = "community/taxonomy"
LEAF = "compositional_skills/x/qna.yaml"


def target_for(github: FakeGitHub, files: int = 1) -> tuple[Target, str]:
    others = [added_file(f"knowledge/f{i}/qna.yaml", "a: 1\n") for i in range(1, files)]
    changed = [added_file(LEAF, "a: 1\n" * 10), *others]
    pull = github.state.add_pull(REPO, changed, author="alice")
    settings = GitHubSettings(github.token, github.url, retries=3, backoff_s=0, pause_s=None, write_pause_s=None,
                              secondary_wait_s=0.2)  # fmt: skip
    repo = connect(settings).get_repo(REPO)
    return Target(repo, repo.get_pull(pull.number), "github-actions[bot]", Links()), pull.head_sha


def review(head: str, lines: list[int]) -> Review:
    findings = [Finding(LEAF, n, 1, Severity.ERROR, "tab", "tab character; use spaces") for n in lines]
    return Review("0" * 40, head, [LeafChange(LEAF, ChangeStatus.ADDED)], findings)


@pytest.mark.parametrize(
    "limit",
    [
        dict(status=403, kind="primary", retry_after=None, reset_in=1),  # waits until x-ratelimit-reset
        dict(status=403, kind="secondary", retry_after=1),
        dict(status=403, kind="secondary", retry_after=None),  # GitHub: wait a minute (here: secondary_wait_s)
        dict(status=429, kind="secondary", retry_after=1),
        dict(status=429, kind="primary", retry_after=None, reset_in=1),
    ],
    ids=["403-primary-reset", "403-secondary-retry-after", "403-secondary-bare", "429-retry-after", "429-reset"],
)
def test_every_rate_limit_shape_is_waited_out_on_a_creation(github_server: FakeGitHub, limit: dict) -> None:
    target, head = target_for(github_server)
    github_server.rate_limit(1, method="POST", path=r"/issues/\d+/comments$", **limit)
    started = time.monotonic()
    upsert_summary(target, review(head, [2]))
    assert len(github_server.calls("POST", r"/issues/\d+/comments$")) == 2  # refused once, then done
    assert len(github_server.state.repos[REPO].comments_on(1)) == 1
    assert time.monotonic() - started >= 0.2  # it waited, as GitHub asked


def test_an_edit_is_retried_through_5xx(github_server: FakeGitHub) -> None:
    target, head = target_for(github_server)
    upsert_summary(target, review(head, [2]))
    github_server.fail(2, status=502, method="PATCH")
    upsert_summary(target, review(head, [2, 3]))
    [summary] = github_server.state.repos[REPO].comments_on(1)
    assert "2 error(s)" in summary.body


@pytest.mark.parametrize("what", ["summary", "check run", "review"])
def test_a_creation_whose_answer_was_lost_is_found_not_repeated(github_server: FakeGitHub, what: str) -> None:
    target, head = target_for(github_server)
    path = {"summary": r"/issues/\d+/comments$", "check run": r"/check-runs$", "review": r"/pulls/\d+/reviews$"}
    github_server.lose_answer(1, method="POST", path=path[what])
    publish_review(target, review(head, [2, 3]), {LEAF: ["a: 1"] * 10}, print)
    repo = github_server.state.repos[REPO]
    assert len(repo.comments_on(1)) == 1 and len(repo.check_runs) == 1 and len(repo.reviews) == 1
    assert len(github_server.calls("POST", path[what])) == 1  # it looked and found it, and did not resend


def test_a_creation_that_really_failed_is_sent_again(github_server: FakeGitHub) -> None:
    target, head = target_for(github_server)
    github_server.fail(1, status=502, method="POST", path=r"/check-runs$")
    upsert_check_run(target, review(head, [2]))
    assert len(github_server.state.repos[REPO].check_runs) == 1
    assert len(github_server.calls("POST", r"/check-runs$")) == 2


def test_a_line_inserted_above_neither_resolves_nor_reposts(github_server: FakeGitHub) -> None:
    target, head = target_for(github_server)
    text = ["a: 1"] * 10
    text[4] = "b:\tx"
    publish_review(target, review(head, [5]), {LEAF: text}, print)
    shifted = ["# a comment line", *text]
    pull = github_server.state.repos[REPO].pulls[1]
    pull.files = [added_file(LEAF, "\n".join(shifted) + "\n")]
    publish_review(target, review(head, [6]), {LEAF: shifted}, print)
    repo = github_server.state.repos[REPO]
    assert len(repo.reviews) == 1 and len(repo.review_comments) == 1
    assert not any(c.resolved for c in repo.review_comments.values())
    assert not github_server.calls("POST", "/api/graphql$")  # nothing stale, so not even a thread lookup


def test_a_quiet_rerun_on_a_3000_file_pull_request_takes_a_handful_of_requests(github_server: FakeGitHub) -> None:
    target, head = target_for(github_server, files=3000)
    publish_review(target, review(head, [2]), {LEAF: ["a: 1"] * 10}, print)
    first = len(github_server.requests)
    assert len(github_server.calls("GET", r"/pulls/\d+/files$")) == 30  # 100 a page
    publish_review(target, review(head, [2]), {LEAF: ["a: 1"] * 10}, print)
    rerun = len(github_server.requests) - first
    assert rerun <= 5, [f"{r.method} {r.path}" for r in github_server.requests[first:]]


def test_fixed_findings_have_their_threads_resolved_across_pages_of_threads(github_server: FakeGitHub) -> None:
    target, head = target_for(github_server)
    pull = github_server.state.repos[REPO].pulls[1]
    pull.files = [added_file(LEAF, "a: 1\n" * 130)]
    text = [f"k{n}:\tv" for n in range(130)]
    publish_review(target, review(head, list(range(1, 121))), {LEAF: text}, print)
    publish_review(target, review(head, [1]), {LEAF: text}, print)  # 119 fixed, one left
    threads = github_server.state.repos[REPO].review_comments.values()
    assert sum(c.resolved for c in threads) == 119 and len(threads) == 120
    assert len(github_server.calls("POST", "/api/graphql$")) == 2 + 119  # two pages of threads, one resolve each
