"""The fake GitHub's state: plain dataclasses a test seeds before a run and inspects after it."""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Repository roles and the permission GitHub reports for each in `.../collaborators/{user}/permission`.
ROLE_PERMISSION = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def fake_sha(*parts: str) -> str:
    """A stable 40-hex sha for seeded commits and blobs."""
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()


@dataclass
class User:
    login: str
    id: int
    type: str = "User"


@dataclass
class PullFile:
    """One changed file of a pull request; `patch` is the unified diff GitHub shows (None when too large)."""

    filename: str
    patch: str | None
    status: str = "modified"
    previous_filename: str | None = None

    @property
    def additions(self) -> int:
        return sum(1 for line in (self.patch or "").splitlines() if line.startswith("+"))

    @property
    def deletions(self) -> int:
        return sum(1 for line in (self.patch or "").splitlines() if line.startswith("-"))

    @property
    def sha(self) -> str:
        return fake_sha("blob", self.filename, self.patch or "")

    def commentable_lines(self, side: str) -> set[int]:
        """Lines a review comment may sit on: RIGHT in the new file (added, context), LEFT in the old."""
        old = new = 0
        lines: dict[str, set[int]] = {"LEFT": set(), "RIGHT": set()}
        for line in (self.patch or "").splitlines():
            hunk = _HUNK.match(line)
            if hunk:
                old, new = int(hunk.group(1)), int(hunk.group(2))
            elif line.startswith("+"):
                lines["RIGHT"].add(new)
                new += 1
            elif line.startswith("-"):
                lines["LEFT"].add(old)
                old += 1
            elif not line.startswith("\\"):  # "\ No newline at end of file" belongs to neither side
                lines["LEFT"].add(old)
                lines["RIGHT"].add(new)
                old += 1
                new += 1
        return lines[side]


def added_file(filename: str, text: str) -> PullFile:
    """A new file as GitHub diffs it: one hunk adding every line."""
    lines = text.splitlines()
    patch = f"@@ -0,0 +1,{len(lines)} @@\n" + "\n".join(f"+{line}" for line in lines)
    return PullFile(filename, patch, status="added")


@dataclass
class PullRequest:
    number: int
    title: str
    user: User
    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str
    head_repo: str
    files: list[PullFile] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    body: str = ""
    state: str = "open"
    draft: bool = False
    merged: bool = False
    id: int = 0

    def file(self, filename: str) -> PullFile | None:
        return next((f for f in self.files if f.filename == filename), None)


@dataclass
class Reaction:
    id: int
    content: str
    user: User
    created_at: str = field(default_factory=now)


@dataclass
class IssueComment:
    id: int
    issue_number: int
    user: User
    body: str
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Review:
    id: int
    pull_number: int
    user: User
    body: str
    state: str
    commit_id: str
    submitted_at: str = field(default_factory=now)


@dataclass
class ReviewComment:
    id: int
    pull_number: int
    user: User
    body: str
    path: str
    line: int
    side: str
    commit_id: str
    review_id: int | None = None
    start_line: int | None = None
    start_side: str | None = None
    in_reply_to_id: int | None = None
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    resolved: bool = False  # of the thread this comment starts (GraphQL's PullRequestReviewThread.isResolved)


@dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str = "queued"
    conclusion: str | None = None
    title: str | None = None
    summary: str | None = None
    text: str | None = None
    annotations: list[dict[str, object]] = field(default_factory=list)
    details_url: str | None = None
    external_id: str | None = None
    started_at: str = field(default_factory=now)
    completed_at: str | None = None


@dataclass
class Release:
    id: int
    tag_name: str
    target_commitish: str
    name: str | None
    body: str | None
    draft: bool
    prerelease: bool
    author: User
    created_at: str = field(default_factory=now)


@dataclass
class Team:
    org: str
    slug: str
    id: int
    members: dict[str, str] = field(default_factory=dict)  # login -> "member" | "maintainer"
    pending: set[str] = field(default_factory=set)


@dataclass
class Repository:
    owner: str
    name: str
    id: int
    default_branch: str = "main"
    private: bool = False
    fork: bool = False
    clone_url: str | None = None  # None: GitHub's own URL; a test may point it at a local bare repository
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    issue_comments: dict[int, IssueComment] = field(default_factory=dict)
    reviews: dict[int, Review] = field(default_factory=dict)
    review_comments: dict[int, ReviewComment] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    releases: dict[int, Release] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # name -> colour
    roles: dict[str, str] = field(default_factory=dict)  # login -> a key of ROLE_PERMISSION

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def comments_on(self, number: int) -> list[IssueComment]:
        return sorted((c for c in self.issue_comments.values() if c.issue_number == number), key=lambda c: c.id)

    def role_of(self, login: str) -> str:
        """The login's role; someone who is no collaborator can still read a public repository."""
        return self.roles.get(login, "none" if self.private else "read")


@dataclass
class GitHubState:
    """Everything the fake knows. `token_user` is who the token acts as (a bot by default, as in Actions)."""

    users: dict[str, User] = field(default_factory=dict)
    repos: dict[str, Repository] = field(default_factory=dict)
    teams: dict[tuple[str, str], Team] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # token -> login
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001), init=False, repr=False)

    def next_id(self) -> int:
        return next(self._ids)

    def user(self, login: str, type: str = "User") -> User:
        """The user with this login, registered on first use."""
        if login not in self.users:
            self.users[login] = User(login, self.next_id(), type)
        return self.users[login]

    def add_repo(self, full_name: str, *, default_branch: str = "main", private: bool = False) -> Repository:
        owner, name = full_name.split("/")
        self.user(owner)
        repo = Repository(owner, name, self.next_id(), default_branch=default_branch, private=private)
        self.repos[full_name] = repo
        return repo

    def add_pull(
        self,
        repo: str,
        files: list[PullFile],
        *,
        number: int | None = None,
        author: str = "contributor",
        title: str = "Add a skill",
        head_ref: str = "add-skill",
        head_repo: str | None = None,
        base_ref: str | None = None,
        head_sha: str | None = None,
        base_sha: str | None = None,
        labels: list[str] | None = None,
    ) -> PullRequest:
        """A pull request on `repo` (registered if new); a `head_repo` other than `repo` makes a fork's PR."""
        target = self.repos.get(repo) or self.add_repo(repo)
        number = number if number is not None else max(target.pulls, default=0) + 1
        head_repo = head_repo or repo
        if head_repo not in self.repos:
            self.add_repo(head_repo).fork = True
        pull = PullRequest(
            number=number,
            title=title,
            user=self.user(author),
            head_sha=head_sha or fake_sha("head", repo, str(number)),
            head_ref=head_ref,
            base_sha=base_sha or fake_sha("base", repo, str(number)),
            base_ref=base_ref or target.default_branch,
            head_repo=head_repo,
            files=files,
            labels=list(labels or []),
            id=self.next_id(),
        )
        target.pulls[number] = pull
        return pull

    def set_role(self, repo: str, login: str, role: str) -> None:
        if role not in ROLE_PERMISSION:
            raise ValueError(f"unknown role {role!r}; use one of {sorted(ROLE_PERMISSION)}")
        self.user(login)
        self.repos[repo].roles[login] = role

    def add_team_member(self, org: str, slug: str, login: str, *, role: str = "member", pending: bool = False) -> Team:
        team = self.teams.get((org, slug)) or Team(org, slug, self.next_id())
        self.teams[(org, slug)] = team
        self.user(login)
        team.members[login] = role
        if pending:
            team.pending.add(login)
        return team
