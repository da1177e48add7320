"""`taxbot github` run the way Actions runs it, against the fake GitHub, with real webhook payloads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import subprocess_env
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import added_file
from tests.leaves import ATTRIBUTION, freeform_skill, grounded_skill

REPO = "community/taxonomy"
GOOD = "compositional_skills/arithmetic/addition/qna.yaml"
NEW = "compositional_skills/arithmetic/subtraction/qna.yaml"
# Two seeds short, and a trailing space on line 3: errors the review must place on their lines.
NEW_TEXT = freeform_skill(3).replace("sum in a sentence.", "sum in a sentence. ")


@pytest.fixture
def pull_request(taxonomy_repo, github_server: FakeGitHub):
    base = taxonomy_repo.commit_files(
        {
            GOOD: freeform_skill(),
            GOOD.replace("qna.yaml", "attribution.txt"): ATTRIBUTION,
            "compositional_skills/grounded/sales/qna.yaml": grounded_skill(),
        }
    )
    head = taxonomy_repo.commit_files({NEW: NEW_TEXT, NEW.replace("qna.yaml", "attribution.txt"): ATTRIBUTION})
    github_server.state.add_repo(REPO)
    github_server.state.add_pull(
        REPO,
        [added_file(NEW, NEW_TEXT), added_file(NEW.replace("qna.yaml", "attribution.txt"), ATTRIBUTION)],
        author="alice",
        head_sha=head,
        base_sha=base,
    )
    github_server.state.set_role(REPO, "maintainer", "maintain")
    return taxonomy_repo


def taxbot_github(repo, *args: str) -> subprocess.CompletedProcess[str]:
    env = subprocess_env(TAXBOT_GITHUB_PAUSE_S="0")
    return subprocess.run(
        [sys.executable, "-m", "bot", "github", "--taxonomy", repo.working_dir, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def bot_comments(github_server: FakeGitHub) -> list:
    return [c for c in github_server.state.repos[REPO].comments_on(1) if c.user.type == "Bot"]


def test_two_runs_on_one_head_leave_one_summary_and_one_check_run(pull_request, github_server, github_event) -> None:
    github_event("pull_request.opened", REPO, 1)
    first = taxbot_github(pull_request)
    assert first.returncode == 0, first.stdout + first.stderr
    github_event("pull_request.synchronize", REPO, 1)
    second = taxbot_github(pull_request)
    assert second.returncode == 0, second.stdout + second.stderr
    repo = github_server.state.repos[REPO]
    [summary] = bot_comments(github_server)
    assert "taxbot review: ❌ changes needed" in summary.body
    assert "needs at least 5 items, found 3" in summary.body
    [run] = repo.check_runs.values()
    assert run.conclusion == "failure"
    lines = sorted((a["path"], a["start_line"], a["title"]) for a in run.annotations)
    assert (NEW, 3, "yamllint/trailing-spaces") in lines and (NEW, 5, "schema/minItems") in lines
    assert len(run.annotations) == len(set(lines))  # the second run sent nothing twice
    # One review with the inline comments, not repeated by the second run; a suggestion for the mechanical fix.
    assert len(repo.reviews) == 1
    trailing = next(c for c in repo.review_comments.values() if "trailing-spaces" in c.body)
    assert (
        trailing.line == 3
        and "```suggestion\ntask_description: Add two small numbers and say the sum in a sentence.\n```"
        in trailing.body
    )


def test_a_fix_pushed_resolves_the_old_inline_comments_and_posts_a_new_verdict(
    pull_request, github_server, github_event
) -> None:
    github_event("pull_request.opened", REPO, 1)
    assert taxbot_github(pull_request).returncode == 0
    fixed_text = freeform_skill().replace("plus", "times")  # five seeds now, and not copies of the addition leaf
    fixed = pull_request.commit_files({NEW: fixed_text})
    pull = github_server.state.repos[REPO].pulls[1]
    pull.head_sha, pull.files = fixed, [added_file(NEW, fixed_text)]
    github_event("pull_request.synchronize", REPO, 1)
    assert taxbot_github(pull_request).returncode == 0
    [summary] = bot_comments(github_server)
    assert "✅ no errors" in summary.body
    comments = github_server.state.repos[REPO].review_comments.values()
    assert comments and all(c.resolved for c in comments)  # their threads, resolved through GraphQL


def test_github_failures_mid_run_still_end_in_one_correct_comment(pull_request, github_server, github_event) -> None:
    github_event("pull_request.opened", REPO, 1)
    github_server.fail(2, path=r"/check-runs")
    github_server.rate_limit(1, retry_after=1, path=r"/issues/1/comments$")
    github_server.reject_too_long(1, method="POST", path=r"/issues/1/comments$")
    result = taxbot_github(pull_request)
    assert result.returncode == 0, result.stdout + result.stderr
    [summary] = bot_comments(github_server)
    assert "changes needed" in summary.body and len(summary.body) <= 65_536
    [run] = github_server.state.repos[REPO].check_runs.values()  # retried through the 500s
    assert run.conclusion == "failure" and run.annotations


def test_a_strangers_generate_is_refused_and_a_maintainers_help_answered(
    pull_request, github_server, github_event
) -> None:
    github_event("pull_request.opened", REPO, 1)
    taxbot_github(pull_request)
    github_event("issue_comment.created", REPO, 1, sender="stranger", comment_body="/taxbot generate")
    assert taxbot_github(pull_request).returncode == 0
    repo = github_server.state.repos[REPO]
    stranger = next(c for c in repo.comments_on(1) if c.user.login == "stranger")
    assert [r.content for r in stranger.reactions] == ["-1"]
    [summary] = bot_comments(github_server)
    assert "stranger: /taxbot generate: refused" in summary.body
    github_event("issue_comment.created", REPO, 1, sender="maintainer", comment_body="/taxbot help")
    taxbot_github(pull_request)
    [summary] = bot_comments(github_server)
    assert "maintainer: /taxbot help" in summary.body


def test_the_bots_own_comments_are_ignored(pull_request, github_server, github_event) -> None:
    github_event("issue_comment.created", REPO, 1, sender="github-actions[bot]", comment_body="/taxbot review")
    before = len(github_server.requests)
    assert taxbot_github(pull_request).returncode == 0
    assert len(github_server.requests) == before  # it did not even look


def test_fork_pull_requests_need_approval_for_teacher_work(pull_request, github_server, github_event) -> None:
    pull = github_server.state.repos[REPO].pulls[1]
    pull.head_repo = "alice/taxonomy"
    github_server.state.add_repo("alice/taxonomy").fork = True
    github_event("issue_comment.created", REPO, 1, sender="maintainer", comment_body="/taxbot generate")
    taxbot_github(pull_request)
    [summary] = bot_comments(github_server)
    assert f"waiting for a maintainer's `/taxbot approve {pull.head_sha}`" in summary.body
    github_event("issue_comment.created", REPO, 1, sender="maintainer", comment_body="/taxbot approve")
    taxbot_github(pull_request)
    [summary] = bot_comments(github_server)
    assert "not approved: name the head commit in full" in summary.body and '"approved"' not in summary.body
    github_event("issue_comment.created", REPO, 1, sender="maintainer", comment_body=f"/taxbot approve {pull.head_sha}")
    taxbot_github(pull_request)
    [summary] = bot_comments(github_server)
    assert f'"approved":"{pull.head_sha}"' in summary.body


def test_untrusted_report_then_trusted_publish(pull_request, github_server, github_event, tmp_path: Path) -> None:
    github_event("pull_request.opened", REPO, 1)
    report = tmp_path / "report.json"
    result = taxbot_github(pull_request, "--report-out", str(report))
    assert result.returncode == 0, result.stderr
    assert github_server.state.repos[REPO].issue_comments == {}  # the untrusted run writes nothing
    github_event("workflow_run.completed", REPO, 1)
    assert taxbot_github(pull_request, "--report", str(report)).returncode == 0
    [summary] = bot_comments(github_server)
    assert "changes needed" in summary.body


@pytest.mark.parametrize(
    "tamper",
    [
        lambda r: r | {"pull_request": "1; rm -rf /"},
        lambda r: r | {"head": "../../etc/passwd"},
        lambda r: (
            r
            | {
                "findings": [
                    {"path": "/etc/passwd", "line": 1, "col": 1, "severity": "error", "rule": "x", "message": "m"}
                ]
            }
        ),
        lambda r: r | {"extra": True},
    ],
)
def test_a_tampered_report_is_refused_before_anything_is_written(
    pull_request, github_server, github_event, tmp_path: Path, tamper
) -> None:
    github_event("pull_request.opened", REPO, 1)
    report = tmp_path / "report.json"
    taxbot_github(pull_request, "--report-out", str(report))
    report.write_text(json.dumps(tamper(json.loads(report.read_text()))))
    github_event("workflow_run.completed", REPO, 1)
    result = taxbot_github(pull_request, "--report", str(report))
    assert result.returncode == 2 and "does not match its schema" in result.stderr
    assert github_server.state.repos[REPO].issue_comments == {}


def test_without_a_token_it_says_so_and_exits_2(pull_request, github_server, github_event) -> None:
    github_event("pull_request.opened", REPO, 1)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "github", "--taxonomy", pull_request.working_dir],
        capture_output=True,
        text=True,
        env=subprocess_env(GITHUB_TOKEN=""),
        timeout=120,
    )
    assert result.returncode == 2
    assert "GITHUB_TOKEN is not set" in result.stderr
    assert github_server.state.repos[REPO].issue_comments == {}
