"""The GitHub edge of a release: who wrote its pull requests, the GitHub release, a comment on each pull request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from github import UnknownObjectException
from github.GitRelease import GitRelease
from github.Issue import Issue
from github.IssueComment import IssueComment
from github.Repository import Repository

from bot.github.client import DEFAULT_BOT_LOGIN, GITHUB_FAILURES, GitHubError, create_once, describe
from bot.release.notes import MARKER


def pull_authors(repo: Repository, numbers: Iterable[int]) -> tuple[dict[int, str | None], list[str]]:
    """Each pull request's author; one that cannot be read keeps no author, with a note saying why."""
    authors: dict[int, str | None] = {}
    notes = []
    for number in numbers:
        try:
            authors[number] = repo.get_pull(number).user.login
        except GITHUB_FAILURES as error:
            authors[number] = None
            notes.append(f"pull request #{number}: author unknown ({describe(error)})")
    return authors, notes


def github_release(repo: Repository, tag: str, commit: str, notes: str) -> str:
    """The release page of `tag`, created at `commit` with `notes`; a rerun finds it and keeps it as it is."""
    def find() -> GitRelease | None:
        try:
            return repo.get_release(tag)
        except UnknownObjectException:
            return None

    try:
        release = find() or create_once(
            lambda: repo.create_git_release(tag, name=tag, message=notes, target_commitish=commit), find
        )
    except GITHUB_FAILURES as error:
        raise GitHubError(f"cannot create the GitHub release {tag} on {repo.full_name}: {describe(error)}") from error
    return release.html_url


def comment_on_pulls(repo: Repository, comments: Mapping[int, str],
                     bot_login: str = DEFAULT_BOT_LOGIN) -> tuple[list[int], list[str]]:  # fmt: skip
    """One comment per pull request, edited in place on a rerun: found by its marker among the comments the
    bot wrote (anyone can start a comment with the marker). A comment that fails is noted and the others
    still go out. Returns the pull requests commented on, and the notes."""
    done: list[int] = []
    notes: list[str] = []
    for number, body in sorted(comments.items()):
        try:
            issue = repo.get_issue(number)

            def find(issue: Issue = issue) -> IssueComment | None:
                return next((c for c in issue.get_comments() if c.user.login == bot_login
                             and c.body.startswith(MARKER)), None)  # fmt: skip

            mine = find()
            if mine is None:
                create_once(lambda issue=issue, body=body: issue.create_comment(body), find)
            elif mine.body != body:
                mine.edit(body)
            done.append(number)
        except GITHUB_FAILURES as error:
            notes.append(f"pull request #{number}: no comment ({describe(error)})")
    return done, notes
