"""Pytest fixtures for the fakes, enabled by `pytest_plugins = ["tests.fakes.fixtures"]` in conftest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.github_described import description, exchange_problems
from tests.fakes.github_server import API_PREFIX, FakeGitHub
from tests.fakes.hf_server import FakeHub
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.real_models import (
    llama_server,
    require_llama_cpp,
    require_smollm2,
    require_training_stack,
    save_smollm2,
)
from tests.fakes.webhooks import GitHubEvent, webhook_for, write_event


@pytest.fixture
def teacher_server() -> Iterator[FakeOpenAI]:
    """A running scripted teacher; set `.script`, add faults, point a client at `.base_url`."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def github_server() -> Iterator[FakeGitHub]:
    """A running fake GitHub; seed `.state`, point PyGithub at `.url` with `.token`.

    Afterwards every request the test sent and every answer the fake gave are held to GitHub's own OpenAPI
    description (when ../shared/data has it): a route GitHub lacks, a body it would refuse or an answer it
    would never give fails the test."""
    with FakeGitHub() as server:
        yield server
    if description() is not None:
        exchanges = server.exchanges
        problems = sorted({p for request, reply in exchanges for p in exchange_problems(request, reply, API_PREFIX)})
        if problems:
            pytest.fail("not as GitHub describes it:\n" + "\n".join(problems[:30]), pytrace=False)


@pytest.fixture
def github_event(github_server: FakeGitHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> GitHubEvent:
    """Set up the environment of a GitHub Actions run for a real webhook payload moved onto the fake.

    Call it as `github_event("pull_request.opened", "org/taxonomy", 1, sender=..., comment_body=...)`;
    it writes the event file and sets GITHUB_EVENT_PATH, GITHUB_EVENT_NAME, GITHUB_REPOSITORY,
    GITHUB_API_URL, GITHUB_SERVER_URL and GITHUB_TOKEN, and returns the event file's path.
    """

    def make(event: str, repo: str, number: int | None = None, **options: str) -> Path:
        path = write_event(webhook_for(github_server, event, repo, number, **options), tmp_path)
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(path))
        monkeypatch.setenv("GITHUB_EVENT_NAME", event.split(".")[0])
        monkeypatch.setenv("GITHUB_REPOSITORY", repo)
        monkeypatch.setenv("GITHUB_API_URL", github_server.url)
        monkeypatch.setenv("GITHUB_SERVER_URL", github_server.html_url)
        monkeypatch.setenv("GITHUB_TOKEN", github_server.token)
        return path

    return make


@pytest.fixture
def hub_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A running fake Hugging Face Hub; point `HfApi(endpoint=.url, token=.token)` at it."""
    import huggingface_hub.constants

    # huggingface_hub reads HF_HUB_OFFLINE once, at import; the guard's offline setting is for the real Hub.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    with FakeHub() as server:
        yield server


@pytest.fixture(scope="session")
def smollm2_teacher() -> Iterator[str]:
    """A real open teacher: SmolLM2-135M-Instruct behind llama.cpp's OpenAI-compatible server, one per
    session; yields the /v1 base URL. The served model is named `smollm2`."""
    require_llama_cpp()
    with llama_server(require_smollm2()) as url:
        yield url


@pytest.fixture(scope="session")
def smollm2_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real pretrained student: SmolLM2-135M-Instruct as a plain Hugging Face model folder, once per session."""
    require_training_stack()
    return save_smollm2(require_smollm2(), tmp_path_factory.mktemp("smollm2"))
