"""The GitHub edge: one configured PyGithub client, retrying 5xx and rate limits, any API base URL."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import requests
from github import Auth, Github, GithubException, GithubRetry

from bot.errors import UsageError

DEFAULT_API_URL = "https://api.github.com"


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


def settings_from_env(env: Mapping[str, str]) -> GitHubSettings:
    """GITHUB_TOKEN and GITHUB_API_URL as Actions sets them; TAXBOT_GITHUB_PAUSE_S=0 for no pauses."""
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    if not token:
        raise UsageError("GITHUB_TOKEN is not set: pass `github-token` to the action or export it")
    pause = env.get("TAXBOT_GITHUB_PAUSE_S")
    pauses = {} if pause is None else {"pause_s": float(pause) or None, "write_pause_s": float(pause) or None}
    return GitHubSettings(token, env.get("GITHUB_API_URL") or DEFAULT_API_URL, **pauses)


def connect(settings: GitHubSettings) -> Github:
    # GithubRetry retries 5xx and waits out 403/429 rate limits, honouring retry-after and the reset time.
    retry = GithubRetry(total=settings.retries, backoff_factor=settings.backoff_s)
    return Github(
        base_url=settings.api_url,
        auth=Auth.Token(settings.token),
        retry=retry,
        timeout=30,
        seconds_between_requests=settings.pause_s,
        seconds_between_writes=settings.write_pause_s,
    )


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
