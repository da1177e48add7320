"""Publishing against the fake GitHub in-process: annotations in batches of 50, quiet reruns, log fallback."""

from __future__ import annotations

from bot.github.client import GitHubSettings, connect
from bot.github.comments import Links
from bot.github.publish import Target, publish_review, upsert_check_run
from bot.review import Review
from bot.taxonomy.diff import ChangeStatus, LeafChange
from bot.taxonomy.findings import Finding, Severity
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import added_file

REPO = "community/taxonomy"
LEAF = "compositional_skills/x/qna.yaml"


def target_for(github_server: FakeGitHub) -> tuple[Target, str]:
    pull = github_server.state.add_pull(REPO, [added_file(LEAF, "a: 1\n" * 130)], author="alice")
    gh = connect(
        GitHubSettings(github_server.token, github_server.url, retries=2, backoff_s=0, pause_s=None, write_pause_s=None)
    )
    repo = gh.get_repo(REPO)
    return Target(repo, repo.get_pull(pull.number), "github-actions[bot]", Links()), pull.head_sha


def review(head: str, count: int) -> Review:
    findings = [Finding(LEAF, i + 1, 1, Severity.WARNING, "tab", f"tab {i}") for i in range(count)]
    return Review("0" * 40, head, [LeafChange(LEAF, ChangeStatus.ADDED)], findings)


def test_120_annotations_go_in_batches_of_50_and_a_rerun_sends_none(github_server: FakeGitHub) -> None:
    target, head = target_for(github_server)
    upsert_check_run(target, review(head, 120))
    [run] = github_server.state.repos[REPO].check_runs.values()
    assert len(run.annotations) == 120 and run.conclusion == "success"
    writes = len(github_server.calls("PATCH", r"/check-runs/\d+$")) + len(github_server.calls("POST", "/check-runs$"))
    assert writes == 3
    upsert_check_run(target, review(head, 120))
    again = len(github_server.calls("PATCH", r"/check-runs/\d+$")) + len(github_server.calls("POST", "/check-runs$"))
    assert again == writes  # quiet: nothing changed


def test_when_github_refuses_every_write_the_summary_goes_to_the_log(github_server: FakeGitHub) -> None:
    target, head = target_for(github_server)
    github_server.fail(1000, status=503, method="POST")
    github_server.fail(1000, status=503, method="PATCH")
    logged: list[str] = []
    assert publish_review(target, review(head, 2), {}, logged.append) is False
    assert any("cannot write the summary comment" in line for line in logged)
    assert any("taxbot review" in line for line in logged)
