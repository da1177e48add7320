"""A stateful fake of the GitHub REST API: enough for PyGithub to review a pull request and cut a release."""

from __future__ import annotations

import math
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from tests.fakes.github_graphql import execute
from tests.fakes.github_json import REACTIONS, GitHubJson
from tests.fakes.github_state import (
    ROLE_PERMISSION,
    CheckRun,
    GitHubState,
    IssueComment,
    PullRequest,
    Reaction,
    Release,
    Repository,
    Review,
    ReviewComment,
    Team,
    User,
    fake_sha,
    now,
)
from tests.fakes.serving import Fault, LoopbackServer, ReceivedRequest, Reply, route_matcher

# GitHub Enterprise Server's layout: PyGithub prefixes every path it builds with the base URL's path, and for
# URLs it finds in responses keeps only the path, so this catches a client that drops or doubles the prefix.
API_PREFIX = "/api/v3"
GRAPHQL_PATH = "/api/graphql"  # GitHub Enterprise Server's GraphQL beside /api/v3, where PyGithub sends it
MAX_BODY = 65536  # characters in an issue comment, review or review comment body
MAX_OUTPUT_TEXT = 65535  # characters in a check run's output summary or text
MAX_ANNOTATIONS = 50  # per check-run request; more are added by further PATCHes
RATE_LIMIT = 5000
CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CONCLUSIONS = (
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "stale",
    "timed_out",
)
REVIEW_STATES = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
ANNOTATION_KEYS = ("path", "start_line", "end_line", "annotation_level", "message")
ANNOTATION_LEVELS = ("notice", "warning", "failure")
DOCS = "https://docs.github.com/rest"

Handler = Callable[[ReceivedRequest, dict[str, str]], Reply]


def _not_found(message: str = "Not Found") -> Reply:
    return Reply(404, {"message": message, "documentation_url": DOCS, "status": "404"})


def _validation_failed(resource: str, field: str, code: str, message: str | None = None) -> Reply:
    error = {"resource": resource, "code": code, "field": field} | ({"message": message} if message else {})
    return Reply(422, {"message": "Validation Failed", "errors": [error], "documentation_url": DOCS, "status": "422"})


def _too_long(resource: str) -> Reply:
    return _validation_failed(resource, "data", "unprocessable", f"Body is too long (maximum is {MAX_BODY} characters)")


def _unprocessable(*errors: str) -> Reply:
    return Reply(422, {"message": "Unprocessable Entity", "errors": list(errors), "documentation_url": DOCS})


def _invalid_request(detail: str) -> Reply:
    return Reply(422, {"message": f"Invalid request.\n\n{detail}", "documentation_url": DOCS})


class FakeGitHub:
    """The GitHub API at `url` (ending in `/api/v3`); `state` holds everything, to seed and to read back.

    Requests must carry `Authorization: token <token>` (or Bearer) for a token in `state.tokens`; `token`
    acts as `bot_login`, a Bot user, the way GITHUB_TOKEN acts as github-actions[bot].
    """

    def __init__(self, *, token: str = "fake-token", bot_login: str = "github-actions[bot]") -> None:
        self.state = GitHubState()
        self.token = token
        self.bot = self.state.user(bot_login, "Bot")
        self.state.tokens[token] = bot_login
        self._server = LoopbackServer(self._handle)
        self.render = GitHubJson(self.state, self.url, self.html_url)
        self._lock = threading.Lock()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lost: list[tuple[Callable[[ReceivedRequest], bool], list[int]]] = []
        self.exchanges: list[tuple[ReceivedRequest, Reply]] = []  # what the handlers answered (not the faults)
        # GITHUB_TOKEN cannot read an organisation's teams; a GitHub App's installation token can.
        self.teams_readable = True
        self._add_routes()

    @property
    def url(self) -> str:
        return self._server.origin + API_PREFIX

    @property
    def html_url(self) -> str:
        return self._server.origin

    @property
    def requests(self) -> list[ReceivedRequest]:
        return self._server.requests

    def calls(self, method: str, path: str) -> list[ReceivedRequest]:
        """The requests with this method whose path matches the regex `path` (searched, prefix included)."""
        matches = route_matcher(method, path)
        return [r for r in self.requests if matches(r)]

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.stop()

    # Faults: each applies to the next `times` requests whose method and path (a regex) match.

    def fail(self, times: int = 1, *, status: int = 500, method: str | None = None, path: str | None = None) -> None:
        """Answer `status` (a 5xx) as GitHub does when it is having a bad day."""
        reply = Reply(status, {"message": "Server Error", "documentation_url": DOCS, "status": str(status)})
        self._server.add_fault(Fault(route_matcher(method, path), times, reply=lambda _: reply))

    def rate_limit(
        self,
        times: int = 1,
        *,
        retry_after: int | None = 1,
        kind: str = "primary",
        status: int = 403,
        reset_in: int = 1,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        """Answer a rate limit as GitHub does: `status` 403 or 429; `kind` "primary" (no requests left,
        `x-ratelimit-reset` in `reset_in` seconds) or "secondary" (too many requests at once, requests still
        left); with `retry-after` in whole seconds, or without it (`retry_after=None`)."""

        def reply(_: ReceivedRequest) -> Reply:
            primary = kind == "primary"
            remaining = 0 if primary else RATE_LIMIT - len(self.requests)
            headers = {
                "x-ratelimit-limit": str(RATE_LIMIT),
                "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-used": str(RATE_LIMIT - remaining),
                "x-ratelimit-reset": str(int(time.time()) + reset_in),
                "x-ratelimit-resource": "core",
            } | ({"retry-after": str(retry_after)} if retry_after is not None else {})
            message = (
                f"API rate limit exceeded for user ID {self.bot.id}. If you reach out to GitHub Support for help, "
                "please include the request ID 0000:0000:0000000:0000000:00000000."
                if primary
                else "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                "If you reach out to GitHub Support for help, please include the request ID "
                "0000:0000:0000000:0000000:00000000."
            )
            return Reply(status, {"message": message, "documentation_url": DOCS, "status": str(status)}, headers)

        self._server.add_fault(Fault(route_matcher(method, path), times, reply=reply))

    def lose_answer(self, times: int = 1, *, status: int = 502, method: str | None = None,
                    path: str | None = None) -> None:  # fmt: skip
        """Do what the next `times` matching requests ask, then answer `status` as if it failed: the write
        happened behind a 502 from GitHub's edge, and a client that simply resends it writes it twice."""
        self._lost.append((route_matcher(method, path), [times, status]))

    def reject_too_long(self, times: int = 1, *, method: str | None = None, path: str | None = None) -> None:
        """Answer 422 "Body is too long" whatever the body's length."""
        reply = _too_long("IssueComment")
        self._server.add_fault(Fault(route_matcher(method, path), times, reply=lambda _: reply))

    def clear_faults(self) -> None:
        self._server.clear_faults()
        self._lost.clear()

    # Dispatch.

    def _route(self, method: str, pattern: str, handler: Handler) -> None:
        pattern = pattern.replace("{repo}", "/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)")
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def _add_routes(self) -> None:
        r = self._route
        r("GET", "/user", lambda req, _: Reply(200, self.render.public_user(self._caller(req))))
        r(
            "GET",
            "/users/(?P<login>[^/]+)",
            lambda _, p: Reply(200, self.render.public_user(self.state.user(p["login"]))),
        )
        r("GET", "/rate_limit", self._get_rate_limit)
        r("GET", "/orgs/(?P<org>[^/]+)", self._get_org)
        r("GET", "/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)", self._get_team)
        r(
            "GET",
            "/orgs/(?P<org>[^/]+)/teams/(?P<slug>[^/]+)/memberships/(?P<login>[^/]+)",
            self._get_membership,
        )
        r("GET", "{repo}", lambda _, p: Reply(200, self.render.repo(self._repo(p))))
        r("GET", "{repo}/collaborators/(?P<login>[^/]+)/permission", self._get_permission)
        r("GET", "{repo}/pulls", self._list_pulls)
        r("GET", "{repo}/pulls/(?P<number>\\d+)", self._get_pull)
        r("GET", "{repo}/pulls/(?P<number>\\d+)/files", self._list_files)
        r("GET", "{repo}/issues/(?P<number>\\d+)", self._get_issue)
        r("GET", "{repo}/issues/(?P<number>\\d+)/comments", self._list_issue_comments)
        r("POST", "{repo}/issues/(?P<number>\\d+)/comments", self._create_issue_comment)
        r("GET", "{repo}/issues/comments/(?P<id>\\d+)", self._get_issue_comment)
        r("PATCH", "{repo}/issues/comments/(?P<id>\\d+)", self._edit_issue_comment)
        r("DELETE", "{repo}/issues/comments/(?P<id>\\d+)", self._delete_issue_comment)
        r("GET", "{repo}/issues/comments/(?P<id>\\d+)/reactions", self._list_reactions)
        r("POST", "{repo}/issues/comments/(?P<id>\\d+)/reactions", self._create_reaction)
        r("GET", "{repo}/issues/(?P<number>\\d+)/labels", self._list_labels)
        r("POST", "{repo}/issues/(?P<number>\\d+)/labels", self._add_labels)
        r("PUT", "{repo}/issues/(?P<number>\\d+)/labels", self._set_labels)
        r("DELETE", "{repo}/issues/(?P<number>\\d+)/labels", self._clear_labels)
        r("DELETE", "{repo}/issues/(?P<number>\\d+)/labels/(?P<label>[^/]+)", self._remove_label)
        r("GET", "{repo}/pulls/(?P<number>\\d+)/reviews", self._list_reviews)
        r("POST", "{repo}/pulls/(?P<number>\\d+)/reviews", self._create_review)
        r("GET", "{repo}/pulls/(?P<number>\\d+)/reviews/(?P<id>\\d+)", self._get_review)
        r("GET", "{repo}/pulls/(?P<number>\\d+)/reviews/(?P<id>\\d+)/comments", self._list_review_comments)
        r("GET", "{repo}/pulls/(?P<number>\\d+)/comments", self._list_review_comments)
        r("POST", "{repo}/pulls/(?P<number>\\d+)/comments", self._create_review_comment)
        r(
            "POST",
            "{repo}/pulls/(?P<number>\\d+)/comments/(?P<id>\\d+)/replies",
            self._reply_to_review_comment,
        )
        r("GET", "{repo}/pulls/comments/(?P<id>\\d+)", self._get_review_comment)
        r("PATCH", "{repo}/pulls/comments/(?P<id>\\d+)", self._edit_review_comment)
        r("DELETE", "{repo}/pulls/comments/(?P<id>\\d+)", self._delete_review_comment)
        r("POST", "{repo}/check-runs", self._create_check_run)
        r("GET", "{repo}/check-runs/(?P<id>\\d+)", self._get_check_run)
        r("PATCH", "{repo}/check-runs/(?P<id>\\d+)", self._update_check_run)
        r("GET", "{repo}/check-runs/(?P<id>\\d+)/annotations", self._list_annotations)
        r("GET", "{repo}/commits/(?P<ref>[^/]+)", self._get_commit)
        r("GET", "{repo}/commits/(?P<ref>[^/]+)/check-runs", self._list_check_runs)
        r("GET", "{repo}/releases", self._list_releases)
        r("POST", "{repo}/releases", self._create_release)
        r("GET", "{repo}/releases/latest", self._get_latest_release)
        r("GET", "{repo}/releases/(?P<id>\\d+)", self._get_release)
        r("GET", "{repo}/releases/tags/(?P<tag>[^/]+)", self._get_release_by_tag)

    def _handle(self, request: ReceivedRequest) -> Reply:
        if request.path == GRAPHQL_PATH and request.method == "POST":
            path = None
        elif request.path.startswith(API_PREFIX + "/"):
            path = request.path[len(API_PREFIX) :]
        else:
            return _not_found()
        # Handlers read and change plain dicts, so one request at a time.
        with self._lock:
            try:
                self._caller(request)
                if path is None:
                    data = request.json()
                    reply = Reply(200, execute(self.state, str(data.get("query", "")), data.get("variables")))
                else:
                    reply = self._dispatch(request, path)
            except _Stop as stop:
                reply = stop.reply
            self.exchanges.append((request, reply))
            for matches, left in self._lost:
                if left[0] > 0 and matches(request) and reply.status < 400:
                    left[0] -= 1
                    reply = Reply(left[1], {"message": "Server Error"}, {})
                    break
        return Reply(reply.status, reply.body, self._rate_headers() | reply.headers)

    def _dispatch(self, request: ReceivedRequest, path: str) -> Reply:
        for method, pattern, handler in self._routes:
            match = pattern.match(path)
            if match and method == request.method:
                return handler(request, {k: urllib.parse.unquote(v) for k, v in match.groupdict().items()})
        return _not_found()

    def _rate_headers(self) -> dict[str, str]:
        used = len(self.requests)
        return {
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(max(RATE_LIMIT - used, 0)),
            "x-ratelimit-used": str(used),
            "x-ratelimit-reset": str(int(time.time()) + 3600),
            "x-ratelimit-resource": "core",
        }

    def _caller(self, request: ReceivedRequest) -> User:
        """The token's user; a request without a known token stops with GitHub's 401."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        login = self.state.tokens.get(token) if scheme.lower() in ("token", "bearer") else None
        if login is None:
            raise _Stop(Reply(401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}))
        return self.state.users[login]

    def _repo(self, params: dict[str, str]) -> Repository:
        repo = self.state.repos.get(f"{params['owner']}/{params['name']}")
        if repo is None:
            raise _Stop(_not_found())
        return repo

    def _pull(self, params: dict[str, str]) -> tuple[Repository, PullRequest]:
        repo = self._repo(params)
        pull = repo.pulls.get(int(params["number"]))
        if pull is None:
            raise _Stop(_not_found())
        return repo, pull

    def _page(self, request: ReceivedRequest, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        """One page of `items` and its Link header, as GitHub paginates (`per_page` up to 100)."""
        per_page = min(int(request.query.get("per_page", 30)), 100)
        page = int(request.query.get("page", 1))
        last = max(1, math.ceil(len(items) / per_page))

        def link(number: int, rel: str) -> str:
            query = urllib.parse.urlencode(request.query | {"per_page": per_page, "page": number})
            return f'<{self._server.origin}{request.path}?{query}>; rel="{rel}"'

        links = [link(page + 1, "next"), link(last, "last")] if page < last else []
        links += [link(page - 1, "prev"), link(1, "first")] if page > 1 else []
        return items[(page - 1) * per_page : page * per_page], {"Link": ", ".join(links)} if links else {}

    def _paged(self, request: ReceivedRequest, items: list[Any]) -> Reply:
        chunk, headers = self._page(request, items)
        return Reply(200, chunk, headers)

    # Users, organisations, teams, permissions.

    def _get_rate_limit(self, request: ReceivedRequest, _: dict[str, str]) -> Reply:
        headers = self._rate_headers()
        core = {
            "limit": RATE_LIMIT,
            "remaining": int(headers["x-ratelimit-remaining"]),
            "reset": int(headers["x-ratelimit-reset"]),
            "used": int(headers["x-ratelimit-used"]),
            "resource": "core",
        }
        search = {"limit": 30, "remaining": 30, "reset": core["reset"], "used": 0, "resource": "search"}
        graphql = {"limit": RATE_LIMIT, "remaining": RATE_LIMIT, "reset": core["reset"], "used": 0}
        resources = {"core": core, "search": search, "graphql": graphql | {"resource": "graphql"}}
        return Reply(200, {"resources": resources, "rate": core})

    def _get_org(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        known = {org for org, _ in self.state.teams} | {repo.owner for repo in self.state.repos.values()}
        if p["org"] not in known:
            raise _Stop(_not_found())
        return Reply(200, self.render.org(self.state.user(p["org"])))

    def _team(self, p: dict[str, str]) -> Team:
        team = self.state.teams.get((p["org"], p["slug"]))
        if team is None:
            raise _Stop(_not_found())
        return team

    def _get_team(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self.render.team(self._team(p)))

    def _get_membership(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        if not self.teams_readable:
            raise _Stop(Reply(403, {"message": "Resource not accessible by integration", "documentation_url": DOCS,
                                    "status": "403"}))  # fmt: skip
        team = self._team(p)
        if p["login"] not in team.members:
            raise _Stop(_not_found())
        return Reply(200, self.render.membership(team, p["login"]))

    def _get_permission(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p)
        role = repo.role_of(p["login"])
        user = self.render.user(self.state.user(p["login"])) | {"role_name": role}
        return Reply(200, {"permission": ROLE_PERMISSION[role], "role_name": role, "user": user})

    # Pull requests and their files.

    def _list_pulls(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p)
        state = request.query.get("state", "open")
        head = request.query.get("head")  # `owner:branch`, the way GitHub filters by the head's repository
        pulls = [
            pr
            for pr in repo.pulls.values()
            if state in ("all", pr.state) and head in (None, f"{pr.head_repo.split('/')[0]}:{pr.head_ref}")
        ]
        return self._paged(request, [self.render.pull(repo, pr) for pr in pulls])

    def _get_pull(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self.render.pull(*self._pull(p)))

    def _list_files(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, pull = self._pull(p)
        return self._paged(request, [self.render.pull_file(repo, pull, f) for f in pull.files])

    def _get_issue(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self.render.issue(*self._pull(p)))

    def _get_commit(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p)
        sha = self._resolve_ref(repo, p["ref"])
        if sha is None:
            return _unprocessable(f"No commit found for SHA: {p['ref']}")
        return Reply(200, self.render.commit(repo, sha))

    def _resolve_ref(self, repo: Repository, ref: str) -> str | None:
        if re.fullmatch(r"[0-9a-f]{40}", ref):
            return ref
        for pull in repo.pulls.values():
            if ref == pull.head_ref:
                return pull.head_sha
            if ref == pull.base_ref:
                return pull.base_sha
        return fake_sha("branch", repo.full_name, ref) if ref == repo.default_branch else None

    # Issue comments and their reactions.

    def _issue_comment(self, p: dict[str, str]) -> tuple[Repository, IssueComment]:
        repo = self._repo(p)
        comment = repo.issue_comments.get(int(p["id"]))
        if comment is None:
            raise _Stop(_not_found())
        return repo, comment

    def _list_issue_comments(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, pull = self._pull(p)
        return self._paged(request, [self.render.issue_comment(repo, c) for c in repo.comments_on(pull.number)])

    def _create_issue_comment(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, pull = self._pull(p)
        body = request.json().get("body")
        if not isinstance(body, str):
            return _validation_failed("IssueComment", "body", "missing_field")
        if len(body) > MAX_BODY:
            return _too_long("IssueComment")
        comment = IssueComment(self.state.next_id(), pull.number, self._caller(request), body)
        repo.issue_comments[comment.id] = comment
        return Reply(201, self.render.issue_comment(repo, comment))

    def _get_issue_comment(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self.render.issue_comment(*self._issue_comment(p)))

    def _edit_issue_comment(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, comment = self._issue_comment(p)
        body = request.json().get("body")
        if not isinstance(body, str):
            return _validation_failed("IssueComment", "body", "missing_field")
        if len(body) > MAX_BODY:
            return _too_long("IssueComment")
        comment.body, comment.updated_at = body, now()
        return Reply(200, self.render.issue_comment(repo, comment))

    def _delete_issue_comment(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, comment = self._issue_comment(p)
        del repo.issue_comments[comment.id]
        return Reply(204)

    def _list_reactions(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        _, comment = self._issue_comment(p)
        return self._paged(request, [self.render.reaction(r) for r in comment.reactions])

    def _create_reaction(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        _, comment = self._issue_comment(p)
        content = request.json().get("content")
        if content not in REACTIONS:
            return _validation_failed("Reaction", "content", "invalid")
        user = self._caller(request)
        for reaction in comment.reactions:
            if reaction.content == content and reaction.user.login == user.login:
                return Reply(200, self.render.reaction(reaction))
        reaction = Reaction(self.state.next_id(), content, user)
        comment.reactions.append(reaction)
        return Reply(201, self.render.reaction(reaction))

    # Labels.

    def _list_labels(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, pull = self._pull(p)
        return self._paged(request, [self.render.label(repo, name) for name in pull.labels])

    def _requested_labels(self, request: ReceivedRequest) -> list[str]:
        # GitHub takes a bare list of names (what PyGithub sends) or {"labels": [...]}.
        body = request.body
        names = body.get("labels", []) if isinstance(body, dict) else body or []
        return [n if isinstance(n, str) else n.get("name", "") for n in names]

    def _add_labels(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, pull = self._pull(p)
        for name in self._requested_labels(request):
            repo.labels.setdefault(name, "ededed")
            if name not in pull.labels:
                pull.labels.append(name)
        return Reply(200, [self.render.label(repo, name) for name in pull.labels])

    def _set_labels(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        _, pull = self._pull(p)
        pull.labels.clear()
        return self._add_labels(request, p)

    def _clear_labels(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        self._pull(p)[1].labels.clear()
        return Reply(204)

    def _remove_label(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, pull = self._pull(p)
        if p["label"] not in pull.labels:
            return _not_found("Label does not exist")
        pull.labels.remove(p["label"])
        return Reply(200, [self.render.label(repo, name) for name in pull.labels])

    # Reviews and review comments.

    def _list_reviews(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, pull = self._pull(p)
        reviews = sorted((r for r in repo.reviews.values() if r.pull_number == pull.number), key=lambda r: r.id)
        return self._paged(request, [self.render.review(repo, r) for r in reviews])

    def _get_review(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, pull = self._pull(p)
        review = repo.reviews.get(int(p["id"]))
        if review is None or review.pull_number != pull.number:
            raise _Stop(_not_found())
        return Reply(200, self.render.review(repo, review))

    def _create_review(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, pull = self._pull(p)
        data = request.json()
        body = data.get("body") or ""
        event = data.get("event")
        if event is not None and event not in REVIEW_STATES:
            return _unprocessable("Variable $event of type PullRequestReviewEvent was provided invalid value")
        if len(body) > MAX_BODY:
            return _too_long("PullRequestReview")
        drafts = data.get("comments") or []
        for draft in drafts:
            error = self._review_comment_error(pull, draft)
            if error is not None:
                return _unprocessable(error)
            if len(draft.get("body") or "") > MAX_BODY:
                return _too_long("PullRequestReviewComment")
        user = self._caller(request)
        commit_id = data.get("commit_id") or pull.head_sha
        state = REVIEW_STATES.get(event, "PENDING")
        review = Review(self.state.next_id(), pull.number, user, body, state, commit_id)
        repo.reviews[review.id] = review
        for draft in drafts:
            comment = self._new_review_comment(pull, user, draft, commit_id)
            comment.review_id = review.id
            repo.review_comments[comment.id] = comment
        return Reply(200, self.render.review(repo, review))

    def _review_comment_error(self, pull: PullRequest, draft: dict[str, Any]) -> str | None:
        """Why GitHub would refuse this inline comment, or None; this fake wants `line`, not `position`."""
        changed = pull.file(str(draft.get("path")))
        if changed is None:
            return "Path could not be resolved"
        if "line" not in draft:
            return "Line could not be resolved (the fake GitHub takes line/side, not position)"
        lines = changed.commentable_lines(draft.get("side") or "RIGHT")
        start = draft.get("start_line")
        start_lines = changed.commentable_lines(draft.get("start_side") or draft.get("side") or "RIGHT")
        if draft["line"] not in lines or (start is not None and start not in start_lines):
            return "Line could not be resolved"
        return None

    def _new_review_comment(
        self, pull: PullRequest, user: User, draft: dict[str, Any], commit_id: str
    ) -> ReviewComment:
        return ReviewComment(
            id=self.state.next_id(),
            pull_number=pull.number,
            user=user,
            body=draft.get("body") or "",
            path=draft["path"],
            line=draft["line"],
            side=draft.get("side") or "RIGHT",
            commit_id=commit_id,
            start_line=draft.get("start_line"),
            start_side=draft.get("start_side"),
            in_reply_to_id=draft.get("in_reply_to"),
        )

    def _list_review_comments(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, pull = self._pull(p)
        review_id = int(p["id"]) if "id" in p else None
        comments = [
            c
            for c in sorted(repo.review_comments.values(), key=lambda c: c.id)
            if c.pull_number == pull.number and review_id in (None, c.review_id)
        ]
        return self._paged(request, [self.render.review_comment(repo, c) for c in comments])

    def _create_review_comment(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        return self._post_review_comment(request, p, dict(request.json()))

    def _reply_to_review_comment(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        draft = {"body": request.json().get("body"), "in_reply_to": int(p["id"])}
        return self._post_review_comment(request, p, draft)

    def _post_review_comment(self, request: ReceivedRequest, p: dict[str, str], draft: dict[str, Any]) -> Reply:
        repo, pull = self._pull(p)
        parent = repo.review_comments.get(draft.get("in_reply_to") or 0)
        if parent is not None:  # a reply sits in its parent's thread
            draft |= {"path": parent.path, "line": parent.line, "side": parent.side}
        error = self._review_comment_error(pull, draft)
        if error is not None:
            return _validation_failed("PullRequestReviewComment", "pull_request_review_thread.line", "custom", error)
        if len(draft.get("body") or "") > MAX_BODY:
            return _too_long("PullRequestReviewComment")
        user = self._caller(request)
        comment = self._new_review_comment(pull, user, draft, draft.get("commit_id") or pull.head_sha)
        repo.review_comments[comment.id] = comment
        return Reply(201, self.render.review_comment(repo, comment))

    def _review_comment(self, p: dict[str, str]) -> tuple[Repository, ReviewComment]:
        repo = self._repo(p)
        comment = repo.review_comments.get(int(p["id"]))
        if comment is None:
            raise _Stop(_not_found())
        return repo, comment

    def _get_review_comment(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self.render.review_comment(*self._review_comment(p)))

    def _edit_review_comment(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, comment = self._review_comment(p)
        body = request.json().get("body")
        if not isinstance(body, str):
            return _validation_failed("PullRequestReviewComment", "body", "missing_field")
        if len(body) > MAX_BODY:
            return _too_long("PullRequestReviewComment")
        comment.body, comment.updated_at = body, now()
        return Reply(200, self.render.review_comment(repo, comment))

    def _delete_review_comment(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, comment = self._review_comment(p)
        del repo.review_comments[comment.id]
        return Reply(204)

    # Check runs.

    def _check_run(self, p: dict[str, str]) -> tuple[Repository, CheckRun]:
        repo = self._repo(p)
        run = repo.check_runs.get(int(p["id"]))
        if run is None:
            raise _Stop(_not_found())
        return repo, run

    def _create_check_run(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p)
        data = request.json()
        for required in ("name", "head_sha"):
            if not data.get(required):
                return _invalid_request(f'"{required}" wasn\'t supplied.')
        run = CheckRun(self.state.next_id(), data["name"], data["head_sha"])
        error = self._apply_check_run(run, data)
        if error is not None:
            return error
        repo.check_runs[run.id] = run
        return Reply(201, self.render.check_run(repo, run))

    def _update_check_run(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, run = self._check_run(p)
        error = self._apply_check_run(run, request.json())
        return error or Reply(200, self.render.check_run(repo, run))

    def _apply_check_run(self, run: CheckRun, data: dict[str, Any]) -> Reply | None:
        """Validate all of `data`, then apply it; annotations add to those already there, as on GitHub."""
        status, conclusion = data.get("status"), data.get("conclusion")
        if status is not None and status not in CHECK_STATUSES:
            return _invalid_request(f'"{status}" is not a valid status.')
        if conclusion is not None and conclusion not in CONCLUSIONS:
            return _invalid_request(f'"{conclusion}" is not a valid conclusion.')
        if status == "completed" and conclusion is None and run.conclusion is None:
            return _invalid_request('"conclusion" wasn\'t supplied.')
        output = data.get("output")
        if output is not None:
            error = _output_error(output)
            if error is not None:
                return _invalid_request(error)
        for key in ("name", "head_sha", "details_url", "external_id", "started_at"):
            if data.get(key) is not None:
                setattr(run, key, data[key])
        if status is not None:
            run.status = status
        if conclusion is not None:
            run.status, run.conclusion = "completed", conclusion
            run.completed_at = data.get("completed_at") or now()
        if output is not None:
            run.title, run.summary, run.text = (
                output["title"],
                output["summary"],
                output.get("text", run.text),
            )
            run.annotations.extend(output.get("annotations") or [])
        return None

    def _get_check_run(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        return Reply(200, self.render.check_run(*self._check_run(p)))

    def _list_annotations(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo, run = self._check_run(p)
        return self._paged(request, [self.render.annotation(repo, run, a) for a in run.annotations])

    def _list_check_runs(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p)
        sha = self._resolve_ref(repo, p["ref"])
        if sha is None:
            return _unprocessable(f"No commit found for SHA: {p['ref']}")
        runs = sorted((r for r in repo.check_runs.values() if r.head_sha == sha), key=lambda r: -r.id)
        name, status = request.query.get("check_name"), request.query.get("status")
        runs = [r for r in runs if name in (None, r.name) and status in (None, r.status)]
        if request.query.get("filter", "latest") == "latest":  # GitHub's default: the newest run of each name
            runs = [r for i, r in enumerate(runs) if r.name not in {s.name for s in runs[:i]}]
        chunk, headers = self._page(request, runs)
        body = {"total_count": len(runs), "check_runs": [self.render.check_run(repo, r) for r in chunk]}
        return Reply(200, body, headers)

    # Releases.

    def _release(self, repo: Repository, match: Callable[[Release], bool]) -> Release:
        release = next((r for r in sorted(repo.releases.values(), key=lambda r: -r.id) if match(r)), None)
        if release is None:
            raise _Stop(_not_found())
        return release

    def _list_releases(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p)
        releases = sorted(repo.releases.values(), key=lambda r: -r.id)
        return self._paged(request, [self.render.release(repo, r) for r in releases])

    def _create_release(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p)
        data = request.json()
        tag = data.get("tag_name")
        if not tag:
            return _validation_failed("Release", "tag_name", "missing_field")
        if any(r.tag_name == tag for r in repo.releases.values()):
            return _validation_failed("Release", "tag_name", "already_exists")
        release = Release(
            id=self.state.next_id(),
            tag_name=tag,
            target_commitish=data.get("target_commitish") or repo.default_branch,
            name=data.get("name"),
            body=data.get("body"),
            draft=bool(data.get("draft")),
            prerelease=bool(data.get("prerelease")),
            author=self._caller(request),
        )
        repo.releases[release.id] = release
        return Reply(201, self.render.release(repo, release))

    def _get_release(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p)
        return Reply(200, self.render.release(repo, self._release(repo, lambda r: r.id == int(p["id"]))))

    def _get_release_by_tag(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        # A draft release has no tag yet, so GitHub does not find it by tag.
        repo = self._repo(p)
        release = self._release(repo, lambda r: r.tag_name == p["tag"] and not r.draft)
        return Reply(200, self.render.release(repo, release))

    def _get_latest_release(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p)
        return Reply(200, self.render.release(repo, self._release(repo, lambda r: not r.draft and not r.prerelease)))


class _Stop(Exception):
    """Ends a handler early with `reply`: a 404 for a missing resource, a 401 for an unknown token."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _output_error(output: dict[str, Any]) -> str | None:
    """Why GitHub would refuse this check-run output, or None."""
    for required in ("title", "summary"):
        if not isinstance(output.get(required), str):
            return f'"{required}" wasn\'t supplied.'
    for key in ("summary", "text"):
        value = output.get(key) or ""
        if len(value) > MAX_OUTPUT_TEXT:
            return f"Only {MAX_OUTPUT_TEXT} characters are allowed; {len(value)} were supplied."
    annotations = output.get("annotations") or []
    if len(annotations) > MAX_ANNOTATIONS:
        return f"No more than {MAX_ANNOTATIONS} items are allowed; {len(annotations)} were supplied."
    for annotation in annotations:
        for key in ANNOTATION_KEYS:
            if key not in annotation:
                return f'"{key}" wasn\'t supplied.'
        if annotation["annotation_level"] not in ANNOTATION_LEVELS:
            return f'"{annotation["annotation_level"]}" is not a valid annotation_level.'
    return None
