"""The GitHub edge: one configured PyGithub client, retrying 5xx and rate limits, any API base URL."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import requests
from github import Auth, Github, GithubException, GithubRetry
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.util.retry import Retry

from bot.errors import UsageError

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_BOT_LOGIN = "github-actions[bot]"
"""Who GITHUB_TOKEN writes as; a GitHub App's token writes as `<app-slug>[bot]` (set TAXBOT_BOT_LOGIN)."""


class GitHubError(Exception):
    """GitHub could not be reached or refused an action, after retries; the message says which."""


@dataclass(frozen=True)
class GitHubSettings:
    token: str
    api_url: str = DEFAULT_API_URL
    retries: int = 5
    backoff_s: float = 1.0
    # PyGithub sleeps between calls by default (0.25 s, 1 s for writes): right for api.github.com's
    # secondary rate limits, wasted on a GitHub Enterprise or a test server that sets these to 0.
    pause_s: float | None = 0.25
    write_pause_s: float | None = 1.0
    # GitHub asks for a minute's wait after a secondary rate limit that gives no retry-after.
    secondary_wait_s: float = 60.0


def settings_from_env(env: Mapping[str, str]) -> GitHubSettings:
    """GITHUB_TOKEN and GITHUB_API_URL as Actions sets them; TAXBOT_GITHUB_PAUSE_S=0 for no pauses."""
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not token:
        raise UsageError("GITHUB_TOKEN is not set: pass `github-token` to the action or export it")
    pause = env.get("TAXBOT_GITHUB_PAUSE_S")
    pauses = {} if pause is None else {"pause_s": float(pause) or None, "write_pause_s": float(pause) or None}
    if wait := env.get("TAXBOT_GITHUB_SECONDARY_WAIT_S"):
        pauses["secondary_wait_s"] = float(wait)
    return GitHubSettings(token, env.get("GITHUB_API_URL") or DEFAULT_API_URL, **pauses)


RETRIED_STATUSES = (429, *range(500, 600))
"""Besides 403, which GithubRetry retries only when it is a rate limit (primary or secondary)."""


class WriteSafeRetry(GithubRetry):
    """GithubRetry for every method, edits (PATCH) included, and any rate limit (403 or 429, waiting for
    `retry-after`, else until `x-ratelimit-reset`, else the secondary limit's minute). A creation (POST)
    that met a 5xx or lost its answer is NOT resent here: GitHub may have done it, so `create_once` looks
    first. GraphQL (a POST) is resent: taxbot's queries read and its one mutation (resolveReviewThread) is
    idempotent. When retries run out the last answer is returned, so the error says what GitHub said."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("status_forcelist", list(RETRIED_STATUSES))
        kwargs.setdefault("allowed_methods", Retry.DEFAULT_ALLOWED_METHODS | {"GET", "POST", "PATCH"})
        kwargs.setdefault("raise_on_status", False)
        super().__init__(**kwargs)

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> Retry:  # fmt: skip
        if method == "POST" and not (url or "").split("?")[0].endswith("/graphql"):
            if response is not None and response.status >= 500:
                raise MaxRetryError(_pool, url or "", ResponseError(f"{response.status} on a creation"))
            if response is None and error is not None and self._is_read_error(error):
                raise error  # the request reached GitHub and its answer was lost
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def get_retry_after(self, response: Any) -> float | None:
        # A 429 without retry-after still says when the limit resets: wait for that (at most an hour).
        after = super().get_retry_after(response)
        if after is None and response.status == 429:
            reset = response.headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                return min(max(int(reset) - time.time(), 0) + 1, 3600)
        return after


def connect(settings: GitHubSettings) -> Github:
    retry = WriteSafeRetry(
        total=settings.retries, backoff_factor=settings.backoff_s, secondary_rate_wait=settings.secondary_wait_s
    )
    return Github(
        base_url=settings.api_url,
        auth=Auth.Token(settings.token),
        retry=retry,
        timeout=30,
        per_page=100,  # GitHub's most: a 3,000-file pull request is 30 pages, not 100
        seconds_between_requests=settings.pause_s,
        seconds_between_writes=settings.write_pause_s,
    )


T = TypeVar("T")


def _lost(error: Exception) -> bool:
    """A creation that may have happened: GitHub answered 5xx, or the answer never arrived."""
    if isinstance(error, GithubException):
        return error.status >= 500
    return isinstance(error, requests.exceptions.RequestException)


def create_once(create: Callable[[], T], find: Callable[[], T | None], attempts: int = 3,
                wait_s: float = 1.0) -> T:  # fmt: skip
    """`create()`, retried when its answer was lost, but only after `find()` looked for what the lost attempt
    may have written: a comment GitHub stored behind a 502 is found, not posted twice."""
    for attempt in range(attempts):
        try:
            return create()
        except GITHUB_FAILURES as error:
            if not _lost(error) or attempt == attempts - 1:
                raise
            time.sleep(wait_s * (attempt + 1))
            found = find()
            if found is not None:
                return found
    raise AssertionError("unreachable")


def describe(error: Exception) -> str:
    """A one-line reason for a failed GitHub call, for notes and logs."""
    if isinstance(error, GithubException):
        message = error.data.get("message") if isinstance(error.data, dict) else error.data
        return f"GitHub answered {error.status}: {message}"
    if isinstance(error, requests.exceptions.RetryError):
        return "GitHub kept failing after retries"
    return f"{type(error).__name__}: {error}"


GITHUB_FAILURES = (GithubException, requests.exceptions.RequestException)
"""What a GitHub call can raise once PyGithub's retries are spent (requests' RetryError among them)."""
