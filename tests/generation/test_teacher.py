"""The model client against a scripted OpenAI-compatible server: retries, cap, cache, broken replies."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.generation.teacher import (
    BREAKER_AFTER,
    ConfigError,
    Endpoint,
    EndpointError,
    ModelClient,
    OutputMode,
    ReplyCache,
    ReplyCutError,
    ReplyFormatError,
    endpoint_from,
    extract_json,
)
from tests.fakes.openai_server import FakeOpenAI, InFlight
from tests.fakes.serving import closed_url

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


SCHEMA = {"type": "object", "properties": {"pairs": {"type": "array"}}, "required": ["pairs"]}


def _formats(server: FakeOpenAI) -> list[str | None]:
    return [(r.get("response_format") or {}).get("type") for r in server.chat_requests]


def test_structured_output_steps_down_the_ladder_once_per_endpoint(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: '{"pairs": []}'
    teacher_server.refuse_response_format("json_schema")  # llama.cpp's quirk: HTTP 500 naming response_format
    client = client_for(teacher_server)

    async def twice() -> None:
        for variant in ("a", "b"):
            await client.ask(HELLO, lambda text: text, schema=SCHEMA, variant=variant)

    asyncio.run(twice())
    # Refused once, then json_object with the schema, remembered for the next request; no retry spent.
    assert _formats(teacher_server) == ["json_schema", "json_object", "json_object"]
    assert teacher_server.chat_requests[1]["response_format"]["schema"] == SCHEMA
    assert (client.output_mode, client.stats.retries, client.stats.failures) == ("json_object", 0, 0)


def test_an_endpoint_refusing_every_format_gets_plain_text(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: 'Sure: {"pairs": [1]}'
    teacher_server.refuse_response_format("json_schema", "json_object", status=400)
    client = client_for(teacher_server)
    assert asyncio.run(client.chat_json(HELLO, lambda value: value, schema=SCHEMA)) == {"pairs": [1]}
    assert _formats(teacher_server) == ["json_schema", "json_object", None]


def test_the_probe_learns_the_format_and_the_tokens_per_character(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: '{"ok": true}'
    teacher_server.refuse_response_format("json_schema")
    client = client_for(teacher_server)
    asyncio.run(client.probe())
    assert client.output_mode == "json_object"
    # The fake counts words as tokens: the probe's sample has about five characters per word.
    assert 4 < client.chars_per_token < 6
    assert client.tokens("word " * 100) == pytest.approx(100, rel=0.25)


def test_a_teacher_that_is_down_is_known_at_the_probe_with_its_reason() -> None:
    client = ModelClient(Endpoint(closed_url(), "m", timeout_s=2), sleep=_no_sleep)
    with pytest.raises(EndpointError, match=r"127\.0\.0\.1:\d+/v1: Connection refused"):
        asyncio.run(client.probe())
    assert client.stats.requests == 0


def test_a_refusing_teacher_is_named_with_the_servers_own_words() -> None:
    with FakeOpenAI(api_key="right") as server:
        client = ModelClient(Endpoint(server.base_url, "m", api_key="wrong"), sleep=_no_sleep)
        with pytest.raises(EndpointError, match="HTTP 401: Incorrect API key provided"):
            asyncio.run(client.probe())


def test_the_breaker_opens_after_consecutive_connection_failures() -> None:
    client = ModelClient(Endpoint(closed_url(), "m", retries=10, timeout_s=2), sleep=_no_sleep)
    with pytest.raises(EndpointError, match="is down"):
        asyncio.run(client.chat(HELLO))
    assert client.stats.requests == BREAKER_AFTER  # not eleven tries
    with pytest.raises(EndpointError, match="Connection refused"):
        asyncio.run(client.chat(HELLO, variant="later"))
    assert client.stats.requests == BREAKER_AFTER  # the open breaker sends nothing


def test_unusable_and_cut_replies_are_not_cached(teacher_server: FakeOpenAI, tmp_path: Path) -> None:
    teacher_server.script = lambda request: '{"pairs": ["kept"]}'
    teacher_server.unparseable(times=1)
    first = ModelClient(Endpoint(teacher_server.base_url, "m"), ReplyCache(tmp_path), sleep=_no_sleep)
    assert asyncio.run(first.chat_json(HELLO, lambda v: v)) == {"pairs": ["kept"]}
    again = ModelClient(Endpoint(teacher_server.base_url, "m"), ReplyCache(tmp_path), sleep=_no_sleep)
    assert asyncio.run(again.chat_json(HELLO, lambda v: v)) == {"pairs": ["kept"]}
    assert again.stats.requests == 1  # the unparseable try was not cached: asked again, and now answered
    third = ModelClient(Endpoint(teacher_server.base_url, "m"), ReplyCache(tmp_path), sleep=_no_sleep)
    assert asyncio.run(third.chat_json(HELLO, lambda v: v)) == {"pairs": ["kept"]}
    assert (third.stats.requests, third.stats.cached) == (0, 1)

    teacher_server.script = lambda request: '{"pairs": ["one", "two", "three", "four"]}'
    cut = ModelClient(Endpoint(teacher_server.base_url, "m", max_tokens=2), ReplyCache(tmp_path), sleep=_no_sleep)

    async def cut_replies() -> None:
        with pytest.raises(ReplyCutError, match="cut at 2 tokens"):
            await cut.chat_json(HELLO, lambda v: v, variant="cut")
        assert cut.stats.requests == 1  # the same request would be cut the same way: not asked twice
        await cut.chat(HELLO, variant="text")
        await cut.chat(HELLO, variant="text")

    asyncio.run(cut_replies())
    # Both text replies were cut: returned, counted, and never replayed from the cache.
    assert (cut.stats.requests, cut.stats.cut_replies, cut.stats.cached) == (3, 3, 0)


def test_a_pool_of_replicas_each_with_its_own_cap() -> None:
    with FakeOpenAI() as one, FakeOpenAI() as two:
        one.script, two.script = InFlight(lambda r: "one"), InFlight(lambda r: "two")
        endpoint = endpoint_from(
            {"url": [{"url": one.base_url, "concurrency": 1}, {"url": two.base_url, "concurrency": 3}], "model": "m"},
            {},
            "TAXBOT_TEACHER",
        )
        assert endpoint is not None and [e.concurrency for e in endpoint.all] == [1, 3]
        client = ModelClient(endpoint, sleep=_no_sleep)

        async def many() -> list[str]:
            return list(await asyncio.gather(*(client.chat(HELLO, variant=str(i)) for i in range(12))))

        replies = asyncio.run(many())
        assert replies.count("one") >= 1 and replies.count("two") > replies.count("one")
        assert (one.script.most, two.script.most) == (1, 3)


def test_replicas_from_a_comma_separated_variable() -> None:
    endpoint = endpoint_from({"model": "m"}, {"TAXBOT_TEACHER_URL": "http://a/v1, http://b/v1"}, "TAXBOT_TEACHER")
    assert endpoint is not None and [e.base_url for e in endpoint.all] == ["http://a/v1", "http://b/v1"]


def _numbered(request: dict[str, object]) -> list[str]:
    """A different JSON reply per choice asked, as a sampling server writes them."""
    return [f'{{"sample": {i}}}' for i in range(int(request.get("n") or 1))]  # type: ignore[call-overload]


def _read(text: str) -> int:
    value = extract_json(text)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return int(value["sample"])


def test_samples_of_one_prompt_come_in_one_request(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = _numbered
    client = client_for(teacher_server)
    answers = asyncio.run(client.ask_samples(HELLO, _read, 3, variant="v"))
    assert [a.value for a in answers if not isinstance(a, Exception)] == [0, 1, 2]
    assert [r.get("n") for r in teacher_server.chat_requests] == [3]
    assert client.stats.requests == 1


def test_a_server_ignoring_n_gets_one_request_per_sample_remembered(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = _numbered
    teacher_server.ignore_samples()  # llama-cpp-python: takes `n`, gives one choice
    client = client_for(teacher_server)

    async def twice() -> tuple[list[object], int]:
        first = await client.ask_samples(HELLO, _read, 3, variant="a")
        made = client.stats.requests
        await client.ask_samples(HELLO, _read, 2, variant="b")
        return list(first), made

    first, made = asyncio.run(twice())
    assert len([a for a in first if not isinstance(a, Exception)]) == 3
    assert made == 3  # the first asked for 3 and got 1; the other two were asked apart
    later = teacher_server.chat_requests[3:]
    assert len(later) == 2 and all("n" not in r for r in later)  # remembered: `n` is not asked again


def test_a_server_refusing_n_is_learned_at_the_probe(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = _numbered
    teacher_server.refuse_samples()  # llama.cpp's server: "Only one completion choice is allowed"
    client = client_for(teacher_server)

    async def probed() -> tuple[int, list[object]]:
        await client.probe()
        return len(teacher_server.chat_requests), list(await client.ask_samples(HELLO, _read, 2, variant="v"))

    asked, answers = asyncio.run(probed())
    assert len([a for a in answers if not isinstance(a, Exception)]) == 2
    assert len(teacher_server.chat_requests) == asked + 2 and client.stats.failures == 0  # none refused


def test_a_server_refusing_n_mid_run_gets_the_samples_apart(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = _numbered
    teacher_server.refuse_samples()
    client = client_for(teacher_server)
    answers = asyncio.run(client.ask_samples(HELLO, _read, 3, variant="v"))
    assert len([a for a in answers if not isinstance(a, Exception)]) == 3
    assert client.stats.requests == 4 and client.stats.failures == 0  # the refused one, then three


@pytest.mark.parametrize(("status", "message"), [
    (400, "best_of must be 1 when using greedy sampling.Got 2."),  # vLLM before 0.6, at temperature 0
    (500, "Internal Server Error"),  # a server with no check of its own
])  # fmt: skip
def test_a_server_failing_on_n_in_its_own_words_gets_the_samples_apart(
    teacher_server: FakeOpenAI, status: int, message: str
) -> None:
    teacher_server.script = _numbered
    teacher_server.refuse_samples(status=status, message=message)
    client = client_for(teacher_server)
    answers = asyncio.run(client.ask_samples(HELLO, _read, 3, variant="v"))
    assert len([a for a in answers if not isinstance(a, Exception)]) == 3
    assert client.stats.failures == 0 and not client.gives_samples


def test_an_unreadable_sample_loses_only_itself(teacher_server: FakeOpenAI, tmp_path: Path) -> None:
    three = ['{"sample": 0}', "no json here", '{"sample": 2}']
    teacher_server.script = lambda request: three if request.get("n") else "still no json"
    client = ModelClient(Endpoint(teacher_server.base_url, "m"), ReplyCache(tmp_path), sleep=_no_sleep)
    answers = asyncio.run(client.ask_samples(HELLO, _read, 3, variant="v"))
    assert [a.value if not isinstance(a, Exception) else "lost" for a in answers] == [0, "lost", 2]
    # The bad sample was asked again once, alone; its readable siblings were cached and are not asked again.
    assert [r.get("n") for r in teacher_server.chat_requests] == [3, None]
    again = ModelClient(Endpoint(teacher_server.base_url, "m"), ReplyCache(tmp_path), sleep=_no_sleep)
    asyncio.run(again.ask_samples(HELLO, _read, 3, variant="v"))
    assert again.stats.cached == 2


def test_requests_cancelled_in_the_queue_leave_every_replica_in_use() -> None:
    with FakeOpenAI() as one, FakeOpenAI() as two:
        one.script, two.script = InFlight(lambda r: "one", 0.01), InFlight(lambda r: "two", 0.3)
        endpoint = endpoint_from({"url": [one.base_url, two.base_url], "model": "m", "concurrency": 1}, {}, "T")
        assert endpoint is not None
        client = ModelClient(endpoint, sleep=_no_sleep)

        async def run() -> list[str]:
            queued = [asyncio.ensure_future(client.chat(HELLO, variant=f"gone {i}")) for i in range(10)]
            await asyncio.sleep(0.15)
            for request in queued:  # the fast replica's are answered; the slow one's still wait for its slot
                request.cancel()
            await asyncio.gather(*queued, return_exceptions=True)
            return list(await asyncio.gather(*(client.chat(HELLO, variant=str(i)) for i in range(6))))

        replies = asyncio.run(run())
        assert replies.count("one") == 3 and replies.count("two") == 3


def test_a_dead_replica_in_a_live_pool_is_one_note_with_its_url_and_reason(teacher_server: FakeOpenAI) -> None:
    dead = closed_url()
    endpoint = endpoint_from({"url": [dead, teacher_server.base_url], "model": "m"}, {}, "T")
    assert endpoint is not None
    client = ModelClient(endpoint, sleep=_no_sleep)

    async def run() -> list[str]:
        await client.probe()
        return list(await asyncio.gather(*(client.chat(HELLO, variant=str(i)) for i in range(4))))

    assert len(asyncio.run(run())) == 4
    assert client.dropped == [f"teacher replica {dead} left out: Connection refused"]


@pytest.mark.real_model
def test_llama_cpp_is_learned_at_the_probe_as_json_object_and_one_reply_per_request(smollm2_teacher: str) -> None:
    """llama-cpp-python's server takes `n=2` and answers with one choice: the probe learns that, and later
    requests ask for one reply each instead of losing the others."""
    client = ModelClient(Endpoint(smollm2_teacher, "smollm2"))
    asyncio.run(client.probe())
    assert client.output_mode is OutputMode.JSON_OBJECT
    assert not client.gives_samples
