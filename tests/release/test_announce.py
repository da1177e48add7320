"""The GitHub side of a release against the fake GitHub: the release page, authors, one comment per pull request."""

from __future__ import annotations

import pytest
from github.Repository import Repository

from bot.github.client import GitHubError, GitHubSettings, connect
from bot.release.announce import comment_on_pulls, github_release, pull_authors
from bot.release.notes import MARKER
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import IssueComment

REPO = "org/taxonomy"


@pytest.fixture
def repo(github_server: FakeGitHub) -> Repository:
    github_server.state.add_pull(REPO, [], number=3, author="alice")
    github_server.state.add_pull(REPO, [], number=4, author="bob")
    settings = GitHubSettings(github_server.token, github_server.url, retries=0, pause_s=None, write_pause_s=None)
    return connect(settings).get_repo(REPO)


def test_the_release_is_created_once_at_the_taxonomy_commit(github_server: FakeGitHub, repo: Repository) -> None:
    url = github_release(repo, "v1", "a" * 40, "notes")
    assert github_release(repo, "v1", "a" * 40, "other notes") == url
    [release] = github_server.state.repos[REPO].releases.values()
    assert (release.tag_name, release.target_commitish, release.body) == ("v1", "a" * 40, "notes")
    assert url.endswith("/releases/tag/v1")


def test_comments_are_edited_in_place_on_a_rerun(github_server: FakeGitHub, repo: Repository) -> None:
    assert comment_on_pulls(repo, {3: f"{MARKER}\nin v1", 4: f"{MARKER}\nin v1"}) == ([3, 4], [])
    assert comment_on_pulls(repo, {3: f"{MARKER}\nin v1, with the release link"}) == ([3], [])
    [comment] = github_server.state.repos[REPO].comments_on(3)
    assert comment.body.endswith("with the release link")


def test_a_comment_that_fails_is_noted_and_the_others_still_go_out(github_server: FakeGitHub, repo: Repository) -> None:
    comments = {3: f"{MARKER}\nin v1", 99: f"{MARKER}\nin v1", 4: f"{MARKER}\nin v1"}
    done, notes = comment_on_pulls(repo, comments)
    assert done == [3, 4]
    assert notes == ["pull request #99: no comment (GitHub answered 404: Not Found)"]


def test_authors_come_from_the_pull_requests(repo: Repository) -> None:
    authors, notes = pull_authors(repo, [3, 4, 99])
    assert authors == {3: "alice", 4: "bob", 99: None}
    assert notes == ["pull request #99: author unknown (GitHub answered 404: Not Found)"]


def test_a_release_github_refuses_is_an_error_naming_it(github_server: FakeGitHub, repo: Repository) -> None:
    github_server.fail(times=5, status=502, method="POST", path="/releases$")
    with pytest.raises(GitHubError, match="cannot create the GitHub release v1 on org/taxonomy"):
        github_release(repo, "v1", "a" * 40, "notes")


def test_a_comment_someone_else_started_with_the_marker_is_left_alone(
    github_server: FakeGitHub, repo: Repository
) -> None:
    state = github_server.state
    planted = IssueComment(state.next_id(), 3, state.user("mallory"), f"{MARKER}\nclick [here](https://evil.example)")
    state.repos[REPO].issue_comments[planted.id] = planted
    assert comment_on_pulls(repo, {3: f"{MARKER}\nin v1"}) == ([3], [])
    comments = state.repos[REPO].comments_on(3)
    assert [c.body for c in comments if c.user.login == "mallory"] == [planted.body]  # not taken over
    assert [c.body for c in comments if c.user.type == "Bot"] == [f"{MARKER}\nin v1"]


def test_a_release_whose_answer_was_lost_is_found_not_made_twice(github_server: FakeGitHub, repo: Repository) -> None:
    github_server.lose_answer(1, method="POST", path="/releases$")
    url = github_release(repo, "v1", "a" * 40, "notes")
    assert len(github_server.state.repos[REPO].releases) == 1 and url.endswith("/releases/tag/v1")
