"""The trust model, read as an attacker with a fork: what the trusted run believes comes from GitHub, never
from the untrusted run's report or the pull request's files; secrets are spent on a fork only after a
maintainer approved its exact head commit. In-process `taxbot github` runs against the fake GitHub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.github.events import run_github
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import IssueComment, added_file
from tests.fakes.openai_server import FakeOpenAI
from tests.leaves import ATTRIBUTION, freeform_skill

REPO = "community/taxonomy"
FORK = "mallory/taxonomy"
GOOD = "compositional_skills/arithmetic/addition/qna.yaml"
NEW = "compositional_skills/arithmetic/subtraction/qna.yaml"
NEW_TEXT = freeform_skill().replace("plus", "minus")
SECRET = "sk-teacher-secret"


class World:
    """A taxonomy repository on disk (the trusted checkout: default branch plus the PR head fetched as data),
    the fake GitHub, a teacher that counts its calls, and a way to run `taxbot github` for an event."""

    def __init__(self, repo: Any, github: FakeGitHub, teacher: FakeOpenAI, tmp: Path,
                 capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
        self.repo, self.github, self.teacher, self.tmp, self.capsys = repo, github, teacher, tmp, capsys
        config = (f"teacher:\n  url: {teacher.base_url}\n  model: fake-teacher\n"
                  "github:\n  teams: [community/reviewers]\n")  # fmt: skip
        self.default = repo.commit_files({GOOD: freeform_skill(), GOOD.replace("qna.yaml", "attribution.txt"):
                                          ATTRIBUTION, ".taxbot.yaml": config})  # fmt: skip
        github.state.add_repo(REPO)
        github.state.set_role(REPO, "maintainer", "maintain")

    def pull(self, number: int, files: dict[str, str], *, fork: bool, branch: str = "add-skill") -> Any:
        head = self.repo.commit_files(files, message=f"pull request {number}")
        self.repo.git.checkout(self.default)  # the trusted checkout stays on the default branch
        return self.github.state.add_pull(
            REPO, [added_file(path, text) for path, text in files.items()], number=number, author="mallory",
            head_sha=head, base_sha=self.default, head_repo=FORK if fork else REPO, head_ref=branch,
        )  # fmt: skip

    def run(self, name: str, event: dict[str, Any], report: Path | None = None) -> tuple[int, str]:
        path = self.tmp / f"{name}-{len(self.github.requests)}.json"
        path.write_text(json.dumps(event), encoding="utf-8")
        env = {
            "GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(path), "GITHUB_REPOSITORY": REPO,
            "GITHUB_API_URL": self.github.url, "GITHUB_TOKEN": self.github.token, "GITHUB_SHA": self.default,
            "TAXBOT_GITHUB_PAUSE_S": "0", "TAXBOT_TEACHER_API_KEY": SECRET,
        }  # fmt: skip
        self.capsys.readouterr()
        code = run_github(env, Path(self.repo.working_dir), report, None)
        return code, self.capsys.readouterr().out

    def workflow_run(self, pull: Any, **override: Any) -> dict[str, Any]:
        """A `workflow_run` event as GitHub sends it for a fork's pull request: `pull_requests` is empty."""
        head_repo = pull.head_repo
        run = {"event": "pull_request", "head_sha": pull.head_sha, "head_branch": pull.head_ref,
               "head_repository": {"full_name": head_repo}, "pull_requests": [], "conclusion": "success"}  # fmt: skip
        return {"action": "completed", "workflow_run": run | override, "repository": {"full_name": REPO}}

    def comment(self, pull: Any, login: str, body: str, action: str = "created", **fields: Any) -> dict[str, Any]:
        """An `issue_comment` event, and the comment in the fake (unless it was deleted)."""
        state = self.github.state
        comment = IssueComment(state.next_id(), pull.number, state.user(login), body, **fields)
        if action != "deleted":
            state.repos[REPO].issue_comments[comment.id] = comment
        return {
            "action": action,
            "issue": {"number": pull.number, "pull_request": {"url": "x"}},
            "comment": {"id": comment.id, "body": body, "user": {"login": login, "type": "User"}},
            "repository": {"full_name": REPO},
        }

    def summary(self, number: int) -> str:
        bodies = [c.body for c in self.github.state.repos[REPO].comments_on(number) if c.user.type == "Bot"]
        assert len(bodies) == 1, bodies
        return bodies[0]

    def teacher_calls(self) -> int:
        return len(self.teacher.requests)


@pytest.fixture
def world(taxonomy_repo, github_server: FakeGitHub, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Any:
    with FakeOpenAI(api_key=SECRET) as teacher:
        yield World(taxonomy_repo, github_server, teacher, tmp_path, capsys)


def test_a_report_naming_another_pull_request_changes_nothing_there(world: World) -> None:
    victim = world.pull(2, {NEW.replace("subtraction", "division"): freeform_skill(3)}, fork=False, branch="victim")
    attacker = world.pull(1, {NEW: NEW_TEXT}, fork=True)
    # The fork's own workflow uploaded a report for pull request 2 claiming it passes.
    forged = {"$schema": "https://taxbot.dev/schemas/review.schema.json", "base": world.default,
              "head": victim.head_sha, "verdict": "pass", "changes": [], "findings": [], "parts": {}, "samples": [],
              "notes": [], "pull_request": 2}  # fmt: skip
    report = world.tmp / "report.json"
    report.write_text(json.dumps(forged))
    code, log = world.run("workflow_run", world.workflow_run(attacker), report)
    assert code == 0
    assert "the report is ignored" in log
    assert world.github.state.repos[REPO].comments_on(2) == []  # the victim's pull request is untouched
    runs = world.github.state.repos[REPO].check_runs.values()
    assert {r.head_sha for r in runs} == {attacker.head_sha}  # the check run went on the attacker's own head
    assert "leaf change" in world.summary(1)


def test_a_run_whose_head_is_no_open_pull_request_publishes_nothing(world: World) -> None:
    pull = world.pull(1, {NEW: NEW_TEXT}, fork=True)
    event = world.workflow_run(pull, head_sha="f" * 40)
    code, log = world.run("workflow_run", event)
    assert code == 0 and "no open pull request has head ffffffffffff" in log
    assert world.github.state.repos[REPO].issue_comments == {} and world.teacher_calls() == 0


def test_a_forks_teacher_url_and_unapproved_head_never_see_the_key(world: World) -> None:
    with FakeOpenAI() as trap:
        hostile_config = f"teacher:\n  url: {trap.base_url}\n  model: stolen\n"
        pull = world.pull(1, {NEW: NEW_TEXT, ".taxbot.yaml": hostile_config}, fork=True)
        # The fork's report says its base is its own head, whose `.taxbot.yaml` names the trap.
        forged = {"$schema": "https://taxbot.dev/schemas/review.schema.json", "base": pull.head_sha,
                  "head": pull.head_sha, "verdict": "pass", "changes": [], "findings": [], "parts": {},
                  "samples": [], "notes": [], "pull_request": 1}  # fmt: skip
        report = world.tmp / "report.json"
        report.write_text(json.dumps(forged))
        code, _ = world.run("workflow_run", world.workflow_run(pull), report)
        assert code == 0
        assert trap.requests == [] and world.teacher_calls() == 0
    summary = world.summary(1)
    assert f"wait for a maintainer's `/taxbot approve {pull.head_sha}`" in summary


def test_an_approval_of_the_exact_head_lets_the_teacher_run_with_the_key(world: World) -> None:
    pull = world.pull(1, {NEW: NEW_TEXT}, fork=True)
    world.run("workflow_run", world.workflow_run(pull))
    world.run("issue_comment", world.comment(pull, "maintainer", f"/taxbot approve {pull.head_sha}"))
    assert f'"approved":"{pull.head_sha}"' in world.summary(1)
    world.run("workflow_run", world.workflow_run(pull))
    assert world.teacher_calls() > 0
    assert all(r.headers.get("authorization") == f"Bearer {SECRET}" for r in world.teacher.requests)


def test_an_approval_given_before_a_push_approves_nothing_pushed_since(world: World) -> None:
    pull = world.pull(1, {NEW: NEW_TEXT}, fork=True)
    world.run("issue_comment", world.comment(pull, "maintainer", f"/taxbot approve {pull.head_sha}"))
    pushed = world.repo.commit_files({NEW: NEW_TEXT + "# now with a payload\n"})
    world.repo.git.checkout(world.default)
    pull.head_sha = pushed
    world.run("workflow_run", world.workflow_run(pull))
    assert world.teacher_calls() == 0
    assert f"/taxbot approve {pushed}" in world.summary(1)


@pytest.mark.parametrize("change", ["edited", "deleted"])
def test_an_edited_or_deleted_approval_approves_nothing(world: World, change: str) -> None:
    pull = world.pull(1, {NEW: NEW_TEXT}, fork=True)
    old = "2026-01-01T00:00:00Z"
    approve = world.comment(pull, "maintainer", f"/taxbot approve {pull.head_sha}", created_at=old, updated_at=old)
    world.run("issue_comment", approve)
    comment = world.github.state.repos[REPO].issue_comments[approve["comment"]["id"]]
    if change == "edited":
        comment.updated_at = "2026-01-02T00:00:00Z"
    else:
        del world.github.state.repos[REPO].issue_comments[comment.id]
    world.run("workflow_run", world.workflow_run(pull))
    assert world.teacher_calls() == 0
    assert f"the approving comment was {change}" in world.summary(1)
    # The edit or deletion event itself withdraws the approval from the bot's state.
    approve["action"] = change
    world.run("issue_comment", approve)
    assert '"approved":null' in world.summary(1)


def test_an_edited_command_commands_nothing(world: World) -> None:
    pull = world.pull(1, {NEW: NEW_TEXT}, fork=True)
    code, log = world.run("issue_comment", world.comment(pull, "maintainer", "/taxbot review", action="edited"))
    assert code == 0 and "commands nothing" in log
    assert world.github.state.repos[REPO].issue_comments[next(iter(world.github.state.repos[REPO].issue_comments))]
    assert not [c for c in world.github.state.repos[REPO].comments_on(1) if c.user.type == "Bot"]


def test_a_strangers_approval_or_a_short_sha_approves_nothing(world: World) -> None:
    pull = world.pull(1, {NEW: NEW_TEXT}, fork=True)
    world.run("issue_comment", world.comment(pull, "stranger", f"/taxbot approve {pull.head_sha}"))
    world.run("issue_comment", world.comment(pull, "maintainer", f"/taxbot approve {pull.head_sha[:12]}"))
    summary = world.summary(1)
    assert "stranger: /taxbot approve: refused" in summary and '"approved"' not in summary


def test_team_members_count_only_when_active_and_an_unreadable_team_is_logged(world: World) -> None:
    pull = world.pull(1, {NEW: NEW_TEXT}, fork=False)
    world.github.state.add_team_member("community", "reviewers", "invited", pending=True)
    world.github.state.add_team_member("community", "reviewers", "reviewer")
    world.run("issue_comment", world.comment(pull, "invited", "/taxbot review"))
    world.run("issue_comment", world.comment(pull, "reviewer", "/taxbot review"))
    summary = world.summary(1)
    assert "invited: /taxbot review: refused" in summary and "reviewer: /taxbot review: done" in summary
    assert world.github.calls("GET", "/orgs/community/teams/reviewers/memberships/reviewer$")
    world.github.teams_readable = False
    code, log = world.run("issue_comment", world.comment(pull, "reviewer", "/taxbot review"))
    assert code == 0 and "the token cannot read the teams of community" in log
    assert "GitHub App installation token" in log



def _triage_judge(request: dict[str, Any]) -> str:
    """The teacher's reply: the triage opinion when asked for it (the third seed is machine-written)."""
    system = request["messages"][0]["content"]
    if "help triage" in system:
        return '{"abusive": [], "machine_written": [3]}'
    return str(request["messages"][-1]["content"])


def test_the_trusted_run_triages_a_fork_with_the_teacher_once_its_head_is_approved(world: World) -> None:
    world.teacher.script = _triage_judge
    pull = world.pull(1, {NEW: NEW_TEXT}, fork=True)
    world.run("workflow_run", world.workflow_run(pull))
    assert "the teacher finds this answer written by a chat model" not in world.summary(1)
    world.run("issue_comment", world.comment(pull, "maintainer", f"/taxbot approve {pull.head_sha}"))
    world.run("workflow_run", world.workflow_run(pull))
    assert "the teacher finds this answer written by a chat model" in world.summary(1)
