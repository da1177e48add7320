"""The model client against a scripted OpenAI-compatible server: retries, cap, cache, broken replies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.generation.teacher import (
    ConfigError,
    Endpoint,
    EndpointError,
    ModelClient,
    ReplyCache,
    ReplyFormatError,
    endpoint_from,
    extract_json,
)
from tests.fakes.openai_server import FakeOpenAI, InFlight

HELLO = [{"role": "user", "content": "hello"}]


async def _no_sleep(_: float) -> None:
    return None


def client_for(server: FakeOpenAI, **options: object) -> ModelClient:
    endpoint = Endpoint(server.base_url, "fake-teacher", timeout_s=options.pop("timeout_s", 5.0), **options)  # type: ignore[arg-type]
    return ModelClient(endpoint, sleep=_no_sleep)


def test_reply_through_429_and_500(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: "fine"
    teacher_server.fail(429, times=1, retry_after=0)
    teacher_server.fail(500, times=1)
    client = client_for(teacher_server)
    assert asyncio.run(client.chat(HELLO)) == "fine"
    assert (client.stats.requests, client.stats.retries, client.stats.failures) == (3, 2, 0)


def test_retry_after_is_honoured(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: "fine"
    teacher_server.fail(429, times=1, retry_after=7)
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    client = ModelClient(Endpoint(teacher_server.base_url, "m", backoff_s=0.01), sleep=record)
    asyncio.run(client.chat(HELLO))
    assert waits and waits[0] >= 7


def test_a_hang_times_out_and_is_retried(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: "late but fine"
    teacher_server.hang(3, times=1)
    client = client_for(teacher_server, timeout_s=0.5)
    assert asyncio.run(client.chat(HELLO)) == "late but fine"
    assert client.stats.retries == 1


@pytest.mark.parametrize("kind", ["not_json", "text", "no_choices"])
def test_malformed_bodies_are_retried_then_reported(teacher_server: FakeOpenAI, kind: str) -> None:
    teacher_server.malformed(kind, times=None)
    client = client_for(teacher_server, retries=2)
    with pytest.raises(EndpointError, match="no answer after 3 tries"):
        asyncio.run(client.chat(HELLO))
    assert client.stats.failures == 1


def test_client_errors_are_not_retried(teacher_server: FakeOpenAI) -> None:
    teacher_server.fail(401, times=None)
    client = client_for(teacher_server)
    with pytest.raises(EndpointError, match="HTTP 401"):
        asyncio.run(client.chat(HELLO))
    assert client.stats.requests == 1


def test_unparseable_reply_is_counted_and_asked_again_once(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: '{"pairs": []}'
    teacher_server.unparseable(times=1)
    client = client_for(teacher_server)
    assert asyncio.run(client.chat_json(HELLO, lambda v: v)) == {"pairs": []}
    assert client.stats.parse_failures == 1
    teacher_server.unparseable(times=2)
    with pytest.raises(ReplyFormatError):
        asyncio.run(client_for(teacher_server).chat_json(HELLO, lambda v: v, variant="other"))


def test_concurrency_cap_holds_and_requests_overlap_up_to_it(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = counter = InFlight(lambda request: "ok")
    client = client_for(teacher_server, concurrency=4)

    async def many() -> list[str]:
        return list(await asyncio.gather(*(client.chat(HELLO, variant=str(i)) for i in range(8))))

    assert asyncio.run(many()) == ["ok"] * 8
    assert counter.most == 4  # four at once: overlapping, and never more than the cap


def test_cache_replays_replies_so_a_rerun_sends_nothing(teacher_server: FakeOpenAI, tmp_path: Path) -> None:
    teacher_server.script = lambda request: f"reply {len(teacher_server.chat_requests)}"

    async def three(client: ModelClient) -> list[str]:
        return list(await asyncio.gather(*(client.chat(HELLO, variant=str(i)) for i in range(3))))

    first = ModelClient(Endpoint(teacher_server.base_url, "m"), ReplyCache(tmp_path))
    replies = asyncio.run(three(first))
    assert len(set(replies)) == 3
    again = ModelClient(Endpoint(teacher_server.base_url, "m"), ReplyCache(tmp_path))
    assert asyncio.run(three(again)) == replies
    assert (again.stats.requests, again.stats.cached, len(teacher_server.chat_requests)) == (0, 3, 3)
    other_model = ModelClient(Endpoint(teacher_server.base_url, "other"), ReplyCache(tmp_path))
    asyncio.run(other_model.chat(HELLO, variant="0"))
    assert other_model.stats.requests == 1


def test_json_is_found_inside_fences_and_prose() -> None:
    assert extract_json('Sure!\n```json\n{"a": [1]}\n```\nbye') == {"a": [1]}
    assert extract_json("prefix [1, 2] suffix") == [1, 2]
    with pytest.raises(ValueError):
        extract_json("no json here")


def test_endpoint_config_from_section_and_environment() -> None:
    assert endpoint_from({}, {}, "TAXBOT_TEACHER") is None
    endpoint = endpoint_from(
        {"url": "http://127.0.0.1:1/v1", "model": "m", "concurrency": 3},
        {"TAXBOT_TEACHER_API_KEY": "secret"},
        "TAXBOT_TEACHER",
    )
    assert endpoint == Endpoint("http://127.0.0.1:1/v1", "m", "secret", concurrency=3)
    with pytest.raises(ConfigError, match="model"):
        endpoint_from({"url": "http://x"}, {}, "TAXBOT_TEACHER")
    with pytest.raises(ConfigError, match="`concurrency` must be a int"):
        endpoint_from({"url": "http://x", "model": "m", "concurrency": "many"}, {}, "TAXBOT_TEACHER")
    with pytest.raises(ConfigError, match="unknown setting"):
        endpoint_from({"api_key": "do not commit me"}, {}, "TAXBOT_TEACHER")
