"""The fake GitHub driven by the real PyGithub client, as the bot will drive it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from github import (
    Auth,
    Github,
    GithubException,
    GithubRetry,
    RateLimitExceededException,
    UnknownObjectException,
)
from github.PullRequest import PullRequest

from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import PullFile, added_file
from tests.fakes.webhooks import GitHubEvent

REPO = "instructlab/taxonomy"
LEAF = "compositional_skills/writing/poetry/haiku/qna.yaml"
QNA = "version: 3\ntask_description: Write haiku\ncreated_by: alice\nseed_examples:\n  - question: q\n"
MARKER = "<!-- taxbot:review -->"
ANNOTATION = {"path": LEAF, "start_line": 1, "end_line": 1, "annotation_level": "warning", "message": "m"}


def connect(fake: FakeGitHub, retry: int | GithubRetry | None = None) -> Github:
    # PyGithub waits 0.25 s between requests and 1 s between writes unless told otherwise.
    return Github(
        base_url=fake.url,
        auth=Auth.Token(fake.token),
        retry=retry if retry is not None else GithubRetry(total=3, backoff_factor=0),
        seconds_between_requests=None,
        seconds_between_writes=None,
        timeout=5,
    )


@pytest.fixture
def gh(github_server: FakeGitHub) -> Iterator[Github]:
    with connect(github_server) as client:
        yield client


@pytest.fixture
def pull(github_server: FakeGitHub, gh: Github) -> PullRequest:
    modified = PullFile("README.md", "@@ -1,2 +1,2 @@\n # Taxonomy\n-old\n+new", status="modified")
    github_server.state.add_pull(REPO, [added_file(LEAF, QNA), modified], author="alice", head_repo="alice/taxonomy")
    return gh.get_repo(REPO).get_pull(1)


def test_pull_request_and_its_files(github_server: FakeGitHub, pull: PullRequest) -> None:
    seeded = github_server.state.repos[REPO].pulls[1]
    assert (pull.number, pull.user.login, pull.head.sha, pull.head.ref) == (
        1,
        "alice",
        seeded.head_sha,
        "add-skill",
    )
    assert (pull.base.ref, pull.base.sha) == ("main", seeded.base_sha)
    assert pull.head.repo.full_name == "alice/taxonomy" != pull.base.repo.full_name
    assert [p.number for p in pull.base.repo.get_pulls()] == [1]
    files = {f.filename: f for f in pull.get_files()}
    assert files[LEAF].status == "added" and files[LEAF].additions == 5
    assert files[LEAF].patch.startswith("@@ -0,0 +1,5 @@\n+version: 3")
    assert (files["README.md"].additions, files["README.md"].deletions) == (1, 1)


def test_file_list_follows_pagination(github_server: FakeGitHub, gh: Github) -> None:
    many = [added_file(f"knowledge/topic{i}/qna.yaml", QNA) for i in range(75)]
    github_server.state.add_pull(REPO, many)
    files = list(gh.get_repo(REPO).get_pull(1).get_files())
    assert [f.filename for f in files] == [f.filename for f in many]
    assert len(github_server.calls("GET", r"/pulls/1/files")) == 3


def test_comment_created_then_edited_in_place(github_server: FakeGitHub, pull: PullRequest) -> None:
    pull.create_issue_comment(f"{MARKER}\nfirst review")
    mine = [c for c in pull.get_issue_comments() if MARKER in c.body]
    assert len(mine) == 1 and mine[0].user.login == "github-actions[bot]" and mine[0].user.type == "Bot"
    mine[0].edit(f"{MARKER}\nsecond review")
    comments = github_server.state.repos[REPO].comments_on(1)
    assert [c.body for c in comments] == [f"{MARKER}\nsecond review"]
    assert mine[0].html_url.endswith(f"/{REPO}/pull/1#issuecomment-{comments[0].id}")
    assert len(github_server.calls("PATCH", rf"/issues/comments/{comments[0].id}$")) == 1


def test_comment_reaction_and_delete(github_server: FakeGitHub, pull: PullRequest) -> None:
    comment = pull.create_issue_comment("hello")
    assert comment.create_reaction("eyes").content == "eyes"
    assert [r.content for r in comment.get_reactions()] == ["eyes"]
    comment.delete()
    assert github_server.state.repos[REPO].comments_on(1) == []
    with pytest.raises(UnknownObjectException):
        pull.get_issue_comment(comment.id).body  # noqa: B018 (the attribute access fetches it)


def test_check_run_takes_120_annotations_in_batches_of_50(github_server: FakeGitHub, gh: Github) -> None:
    github_server.state.add_pull(REPO, [added_file(LEAF, QNA)])
    repo = gh.get_repo(REPO)
    head = repo.get_pull(1).head.sha
    annotations = [ANNOTATION | {"start_line": i, "end_line": i} for i in range(1, 121)]
    batches = [annotations[i : i + 50] for i in range(0, 120, 50)]
    run = repo.create_check_run(
        "taxbot", head, status="in_progress", output={"title": "t", "summary": "s", "annotations": batches[0]}
    )
    for batch in batches[1:]:
        run.edit(output={"title": "Lint", "summary": "3 problems", "annotations": batch})
    run.edit(conclusion="failure", output={"title": "Lint", "summary": "120 problems", "text": "details"})
    assert (run.status, run.conclusion, run.output.annotations_count) == ("completed", "failure", 120)
    assert repo.get_check_run(run.id).output.title == "Lint"
    assert [a.start_line for a in run.get_annotations()] == list(range(1, 121))
    listed = list(repo.get_commit(head).get_check_runs(check_name="taxbot"))
    assert [(r.id, r.output.summary, r.output.text) for r in listed] == [(run.id, "120 problems", "details")]
    assert len(github_server.calls("PATCH", rf"/check-runs/{run.id}$")) == 3


def test_check_run_refuses_51_annotations(github_server: FakeGitHub, gh: Github) -> None:
    github_server.state.add_pull(REPO, [added_file(LEAF, QNA)])
    repo = gh.get_repo(REPO)
    output = {"title": "t", "summary": "s", "annotations": [ANNOTATION] * 51}
    with pytest.raises(GithubException) as refused:
        repo.create_check_run("taxbot", repo.get_pull(1).head.sha, output=output)
    assert refused.value.status == 422
    assert "No more than 50 items are allowed; 51 were supplied." in refused.value.data["message"]
    assert github_server.state.repos[REPO].check_runs == {}


def test_permission_lookups(github_server: FakeGitHub, gh: Github) -> None:
    github_server.state.add_repo(REPO)
    for login, role in (("ada", "admin"), ("mia", "maintain"), ("tom", "triage")):
        github_server.state.set_role(REPO, login, role)
    repo = gh.get_repo(REPO)
    assert repo.get_collaborator_permission("ada") == "admin"
    assert repo.get_collaborator_permission("mia") == "write"
    assert repo.get_collaborator_role_name("mia") == "maintain"
    assert repo.get_collaborator_permission("tom") == "read"
    assert repo.get_collaborator_permission("stranger") == "read"
    github_server.state.add_repo("instructlab/private", private=True)
    assert gh.get_repo("instructlab/private").get_collaborator_permission("stranger") == "none"


def test_team_membership(github_server: FakeGitHub, gh: Github) -> None:
    github_server.state.add_team_member("instructlab", "triagers", "ada", role="maintainer")
    github_server.state.add_team_member("instructlab", "triagers", "bob", pending=True)
    team = gh.get_organization("instructlab").get_team_by_slug("triagers")
    ada = team.get_team_membership("ada")
    assert (ada.role, ada.state) == ("maintainer", "active")
    assert team.get_team_membership("bob").state == "pending"
    with pytest.raises(UnknownObjectException):
        team.get_team_membership("eve")


def test_server_errors_then_success_with_retry(github_server: FakeGitHub, pull: PullRequest) -> None:
    github_server.fail(2, status=502, method="POST", path=r"/issues/1/comments$")
    pull.create_issue_comment("made it")
    assert len(github_server.calls("POST", r"/issues/1/comments$")) == 3
    assert [c.body for c in github_server.state.repos[REPO].comments_on(1)] == ["made it"]


def test_server_errors_past_the_retries_raise_retry_error(github_server: FakeGitHub, pull: PullRequest) -> None:
    # Once urllib3's retries run out, PyGithub lets requests' RetryError through, not a GithubException.
    github_server.fail(10, method="GET", path=r"/pulls/1/files$")
    with pytest.raises(requests.exceptions.RetryError):
        list(pull.get_files())
    assert len(github_server.calls("GET", r"/pulls/1/files$")) == 4
    github_server.clear_faults()
    assert len(list(pull.get_files())) == 2


def test_rate_limit_waits_for_retry_after(github_server: FakeGitHub, gh: Github) -> None:
    github_server.state.add_pull(REPO, [added_file(LEAF, QNA)])
    github_server.rate_limit(retry_after=1, path=r"/pulls/1$")
    started = time.monotonic()
    assert gh.get_repo(REPO).get_pull(1).number == 1
    first, second = github_server.calls("GET", r"/pulls/1$")
    assert second.at - first.at >= 1.0 and time.monotonic() - started >= 1.0


def test_rate_limit_without_retry_raises(github_server: FakeGitHub) -> None:
    github_server.state.add_repo(REPO)
    github_server.rate_limit()
    with connect(github_server, retry=0) as gh, pytest.raises(RateLimitExceededException) as limited:
        gh.get_repo(REPO)
    assert limited.value.headers["x-ratelimit-remaining"] == "0"
    assert limited.value.headers["retry-after"] == "1"


def test_comment_body_cap(github_server: FakeGitHub, pull: PullRequest) -> None:
    pull.create_issue_comment("x" * 65536)
    with pytest.raises(GithubException) as refused:
        pull.create_issue_comment("x" * 65537)
    assert refused.value.status == 422
    assert refused.value.data["errors"][0]["message"] == "Body is too long (maximum is 65536 characters)"
    github_server.reject_too_long(method="PATCH")
    comment = pull.create_issue_comment("short")
    with pytest.raises(GithubException, match="Body is too long"):
        comment.edit("still short")
    assert len(github_server.state.repos[REPO].comments_on(1)) == 2


def test_review_with_inline_comments(github_server: FakeGitHub, gh: Github, pull: PullRequest) -> None:
    head = gh.get_repo(REPO).get_commit(pull.head.sha)
    inline = [
        {"path": LEAF, "line": 2, "side": "RIGHT", "body": "task_description is vague"},
        {"path": "README.md", "line": 2, "side": "LEFT", "body": "removed line"},
    ]
    review = pull.create_review(commit=head, body=f"{MARKER} 2 problems", event="COMMENT", comments=inline)
    assert review.state == "COMMENTED" and review.commit_id == pull.head.sha
    assert [(r.id, r.body) for r in pull.get_reviews()] == [(review.id, f"{MARKER} 2 problems")]
    assert pull.get_review(review.id).state == "COMMENTED"
    assert len(list(pull.get_single_review_comments(review.id))) == 2
    assert [(c.path, c.line, c.side) for c in pull.get_review_comments()] == [
        (LEAF, 2, "RIGHT"),
        ("README.md", 2, "LEFT"),
    ]
    with pytest.raises(GithubException) as refused:
        pull.create_review(commit=head, event="COMMENT", comments=[inline[0] | {"line": 9}])
    assert refused.value.data["errors"] == ["Line could not be resolved"]
    single = pull.create_review_comment("nit", head, LEAF, line=3)
    reply = pull.create_review_comment_reply(single.id, "fixed")
    single.edit("nit, resolved")
    assert (reply.in_reply_to_id, reply.line) == (single.id, 3)
    assert pull.get_review_comment(single.id).body == "nit, resolved"
    for stale in pull.get_review_comments():
        stale.delete()
    assert github_server.state.repos[REPO].review_comments == {}


def test_labels(pull: PullRequest) -> None:
    pull.add_to_labels("skill", "needs-review")
    pull.remove_from_labels("needs-review")
    pull.add_to_labels("triage/ok")
    assert [label.name for label in pull.get_labels()] == ["skill", "triage/ok"]
    pull.set_labels("knowledge")
    assert [label.name for label in pull.get_labels()] == ["knowledge"]
    pull.delete_labels()
    assert list(pull.get_labels()) == []


def test_releases(github_server: FakeGitHub, gh: Github) -> None:
    github_server.state.add_repo(REPO)
    repo = gh.get_repo(REPO)
    release = repo.create_git_release("v1.0.0", "Taxonomy v1.0.0", "notes")
    assert repo.get_release("v1.0.0").id == release.id == repo.get_latest_release().id
    with pytest.raises(GithubException) as refused:
        repo.create_git_release("v1.0.0", "again", "notes")
    assert refused.value.data["errors"][0]["code"] == "already_exists"
    repo.create_git_release("v2.0.0", "draft", "notes", draft=True)
    assert [r.tag_name for r in repo.get_releases()] == ["v2.0.0", "v1.0.0"]
    with pytest.raises(UnknownObjectException):  # a draft has no tag yet
        repo.get_release("v2.0.0")


def test_token_user_and_rate_limit(github_server: FakeGitHub, gh: Github) -> None:
    me = gh.get_user()
    assert (me.login, me.type) == ("github-actions[bot]", "Bot")
    assert gh.get_rate_limit().resources.core.limit == 5000


def test_unknown_route_and_bad_token(github_server: FakeGitHub, gh: Github) -> None:
    github_server.state.add_repo(REPO)
    with pytest.raises(UnknownObjectException):
        gh.get_repo("nobody/nothing")
    status, _, body = gh.requester.requestJson("GET", "/repos/instructlab/taxonomy/nonsense")
    assert (status, json.loads(body)["message"]) == (404, "Not Found")
    stranger = Github(base_url=github_server.url, auth=Auth.Token("wrong"), retry=0)
    with stranger, pytest.raises(GithubException) as refused:
        stranger.get_repo(REPO)
    assert refused.value.status == 401


@pytest.mark.shared_data
def test_pull_request_event_points_at_the_fake(
    github_server: FakeGitHub, github_event: GitHubEvent, gh: Github
) -> None:
    pull = github_server.state.add_pull(REPO, [added_file(LEAF, QNA)], number=7, head_repo="alice/taxonomy")
    payload = json.loads(Path(github_event("pull_request.opened", REPO, 7)).read_text())
    text = json.dumps(payload)
    assert "api.github.com" not in text and "Codertocat/Hello-World" not in text
    assert (payload["number"], payload["pull_request"]["head"]["sha"]) == (7, pull.head_sha)
    assert payload["pull_request"]["head"]["repo"]["full_name"] == "alice/taxonomy"
    assert payload["pull_request"]["head"]["repo"]["fork"] is True
    assert payload["pull_request"]["url"] == f"{github_server.url}/repos/{REPO}/pulls/7"
    fetched = gh.get_repo(payload["repository"]["full_name"]).get_pull(payload["number"])
    assert fetched.base.sha == payload["pull_request"]["base"]["sha"]


@pytest.mark.shared_data
def test_issue_comment_event_creates_the_comment(
    github_server: FakeGitHub, github_event: GitHubEvent, gh: Github, monkeypatch: pytest.MonkeyPatch
) -> None:
    github_server.state.add_pull(REPO, [added_file(LEAF, QNA)], number=3)
    path = github_event("issue_comment.created", REPO, 3, sender="ada", comment_body="/taxbot review")
    payload = json.loads(path.read_text())
    assert payload["issue"]["pull_request"]["url"].endswith(f"/repos/{REPO}/pulls/3")
    assert (payload["comment"]["user"]["login"], payload["comment"]["body"]) == ("ada", "/taxbot review")
    comment = gh.get_repo(REPO).get_issue(3).get_comment(payload["comment"]["id"])
    comment.create_reaction("rocket")
    assert github_server.state.repos[REPO].issue_comments[comment.id].reactions[0].content == "rocket"


@pytest.mark.shared_data
def test_workflow_run_event_from_a_fork_lists_no_pull_requests(
    github_server: FakeGitHub, github_event: GitHubEvent
) -> None:
    pull = github_server.state.add_pull(REPO, [added_file(LEAF, QNA)], head_repo="alice/taxonomy")
    run = json.loads(github_event("workflow_run.completed", REPO, 1).read_text())["workflow_run"]
    assert (run["head_sha"], run["pull_requests"]) == (pull.head_sha, [])
    assert run["head_repository"]["full_name"] == "alice/taxonomy"
