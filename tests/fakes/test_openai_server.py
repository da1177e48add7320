"""The scripted teacher server driven by the real openai client, as the bot will drive it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import openai
import pytest

from tests.fakes.openai_server import FakeOpenAI, InFlight

GENERATE = "[taxbot:generate]"
JUDGE = "[taxbot:judge]"


def connect(server: FakeOpenAI, **options: Any) -> openai.OpenAI:
    options = {"max_retries": 0, "timeout": 5.0} | options
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", **options)


def ask(client: openai.OpenAI, system: str, user: str, **options: Any) -> Any:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    return client.chat.completions.create(model="teacher", messages=messages, **options)


def by_marker(request: dict[str, Any]) -> str:
    system = request["messages"][0]["content"]
    if GENERATE in system:
        return "- question: What is a haiku?\n  answer: A short poem."
    return "score: 4" if JUDGE in system else "unknown prompt"


def test_scripted_reply_in_the_real_shape(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = by_marker
    with connect(teacher_server) as client:
        generated = ask(client, f"{GENERATE} Write Q&A pairs.", "Topic: haiku")
        judged = ask(client, f"{JUDGE} Rate it.", "Q: What is a haiku?")
    assert generated.choices[0].message.content.startswith("- question: What is a haiku?")
    assert (generated.choices[0].finish_reason, generated.choices[0].message.role) == ("stop", "assistant")
    assert (generated.object, generated.model) == ("chat.completion", "teacher")
    assert generated.id != judged.id and judged.choices[0].message.content == "score: 4"
    assert generated.usage.prompt_tokens == 6 and generated.usage.total_tokens == 6 + 10  # words, not tokens
    assert [r["messages"][1]["content"] for r in teacher_server.chat_requests] == [
        "Topic: haiku",
        "Q: What is a haiku?",
    ]


def test_default_script_echoes_and_n_choices(teacher_server: FakeOpenAI) -> None:
    with connect(teacher_server) as client:
        assert ask(client, "s", "hello teacher").choices[0].message.content == "echo: hello teacher"
        teacher_server.script = lambda request: ["first", "second"]
        reply = ask(client, "s", "three please", n=3)
    assert [c.message.content for c in reply.choices] == ["first", "second", "first"]
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert reply.usage.completion_tokens == 3


def test_script_may_return_the_whole_body(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: teacher_server.completion(request, ["cut o"], finish_reason="length")
    with connect(teacher_server) as client:
        assert ask(client, "s", "long").choices[0].finish_reason == "length"


def test_retries_through_a_429_and_a_500(teacher_server: FakeOpenAI) -> None:
    teacher_server.fail(429, retry_after=0.01)
    teacher_server.fail(500, retry_after=0.01)
    with connect(teacher_server, max_retries=2) as client:
        assert ask(client, "s", "persist").choices[0].message.content == "echo: persist"
    assert len(teacher_server.chat_requests) == 3
    assert [r.headers["x-stainless-retry-count"] for r in teacher_server.requests] == ["0", "1", "2"]


def test_errors_past_the_retries_raise(teacher_server: FakeOpenAI) -> None:
    teacher_server.fail(503, times=None, retry_after=0.01)
    with (
        connect(teacher_server, max_retries=1) as client,
        pytest.raises(openai.InternalServerError) as failed,
    ):
        ask(client, "s", "doomed")
    assert failed.value.status_code == 503 and len(teacher_server.chat_requests) == 2
    teacher_server.clear_faults()
    teacher_server.fail(429, retry_after=0.01)
    with connect(teacher_server) as client, pytest.raises(openai.RateLimitError):
        ask(client, "s", "too fast")


def test_a_hang_times_out(teacher_server: FakeOpenAI) -> None:
    teacher_server.hang(5.0)
    started = time.monotonic()
    with connect(teacher_server, timeout=0.2) as client, pytest.raises(openai.APITimeoutError):
        ask(client, "s", "anyone there?")
    assert time.monotonic() - started < 2.0
    with connect(teacher_server) as client:  # the hang was for one request only
        assert ask(client, "s", "again").choices[0].message.content == "echo: again"


def test_latency_applies_to_matching_requests(teacher_server: FakeOpenAI) -> None:
    teacher_server.add_latency(0.2, when=lambda request: JUDGE in request["messages"][0]["content"])
    with connect(teacher_server) as client:
        started = time.monotonic()
        ask(client, "fast", "x")
        fast = time.monotonic() - started
        ask(client, JUDGE, "x")
        slow = time.monotonic() - started - fast
    assert slow >= 0.2 and fast < slow


def test_concurrent_async_requests_are_served_in_parallel(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = counter = InFlight(seconds=0.3)

    async def many() -> list[str]:
        async with openai.AsyncOpenAI(base_url=teacher_server.base_url, api_key="k", max_retries=0) as client:
            replies = await asyncio.gather(
                *(
                    client.chat.completions.create(model="t", messages=[{"role": "user", "content": f"q{i}"}])
                    for i in range(4)
                )
            )
        return [r.choices[0].message.content for r in replies]

    assert sorted(asyncio.run(many())) == ["echo: q0", "echo: q1", "echo: q2", "echo: q3"]
    assert counter.most == 4  # all four were being answered at once


def test_malformed_bodies_surface_as_errors(teacher_server: FakeOpenAI) -> None:
    # openai-python does not wrap these: invalid JSON sent as application/json escapes as a JSONDecodeError.
    teacher_server.malformed("not_json")
    with connect(teacher_server) as client, pytest.raises(json.JSONDecodeError):
        ask(client, "s", "x")
    # Without strict validation a non-JSON body comes back as a plain str and a body with no `choices` as
    # choices=None; `_strict_response_validation=True` turns both into APIResponseValidationError.
    teacher_server.malformed("text")
    teacher_server.malformed("no_choices")
    with connect(teacher_server) as client:
        assert isinstance(ask(client, "s", "x"), str)
        assert ask(client, "s", "x").choices is None
    teacher_server.malformed("text")
    teacher_server.malformed("no_choices")
    with connect(teacher_server, _strict_response_validation=True) as client:
        for _ in range(2):
            with pytest.raises(openai.APIResponseValidationError):
                ask(client, "s", "x")


def test_unparseable_content_only_where_the_predicate_says(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: '{"score": 4}'
    teacher_server.unparseable(times=None, when=lambda request: "broken" in request["messages"][1]["content"])
    with connect(teacher_server) as client:
        assert json.loads(ask(client, "s", "fine").choices[0].message.content) == {"score": 4}
        content = ask(client, "s", "broken").choices[0].message.content
    with pytest.raises(json.JSONDecodeError):
        json.loads(content)


def test_models_api_key_and_bad_requests() -> None:
    with FakeOpenAI(api_key="right", model="granite-teacher") as server:
        with openai.OpenAI(base_url=server.base_url, api_key="right", max_retries=0) as client:
            assert [m.id for m in client.models.list()] == ["granite-teacher"]
            with pytest.raises(openai.BadRequestError):
                client.chat.completions.create(model="t", messages=[], extra_body={"messages": None})
        wrong = openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0)
        with wrong, pytest.raises(openai.AuthenticationError):
            ask(wrong, "s", "x")
