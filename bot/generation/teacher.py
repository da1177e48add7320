"""Talking to a teacher or student model: OpenAI-compatible endpoints, with structured output where the server
takes it, retries, a breaker, a cap per endpoint and a cache of usable replies."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Generic, TypeVar

import openai

from bot.errors import UsageError

T = TypeVar("T")

Message = dict[str, str]


class EndpointError(Exception):
    """The endpoint could not give an answer: after retries, or at once for errors retrying cannot fix."""


class ReplyFormatError(Exception):
    """The model answered, but not in the format asked for."""


class ReplyCutError(ReplyFormatError):
    """The reply was cut at `max_tokens` (finish_reason `length`) and nothing usable was in it."""


class ConfigError(UsageError):
    """The endpoint's configuration is incomplete or wrong; the message says which setting."""


class OutputMode(StrEnum):
    """How structured output is asked for, best first: OpenAI's and vLLM's json_schema, llama.cpp's
    json_object with a schema (grammar-constrained), or plain text read tolerantly."""

    JSON_SCHEMA = "json_schema"
    JSON_OBJECT = "json_object"
    TEXT = "text"


_LADDER = (OutputMode.JSON_SCHEMA, OutputMode.JSON_OBJECT, OutputMode.TEXT)


@dataclass(frozen=True)
class Endpoint:
    """Where a model is and how hard to push it; `replicas` are more servers of the same model."""

    base_url: str
    model: str
    api_key: str = "none"
    concurrency: int = 8
    timeout_s: float = 120.0
    retries: int = 4
    backoff_s: float = 1.0
    max_tokens: int = 2048
    temperature: float = 0.7
    context_tokens: int = 4096
    structured: bool = True  # ask for JSON through response_format where the server takes it
    replicas: tuple[Endpoint, ...] = ()

    @property
    def all(self) -> tuple[Endpoint, ...]:
        return (self, *self.replicas)


_SETTINGS = {"url": str, "model": str, "concurrency": int, "timeout_s": float, "retries": int,
             "backoff_s": float, "max_tokens": int, "temperature": float, "context_tokens": int}  # fmt: skip


def _typed(name: str, value: object) -> object:
    kind = _SETTINGS[name]
    try:
        return kind(value)  # type: ignore[operator]
    except (TypeError, ValueError):
        raise ConfigError(f"`{name}` must be a {kind.__name__}, found {value!r}") from None


def endpoint_from(section: Mapping[str, object], env: Mapping[str, str], prefix: str) -> Endpoint | None:
    """An endpoint from a config section and `{prefix}_URL`, `_MODEL`, `_API_KEY`; None when no URL is set.

    `url` may be a list (or the variable a comma-separated list) for a pool of replicas; an entry may be
    `{url: ..., concurrency: N}` to give that server its own cap. The key comes only from the environment:
    a config file is committed, a key must not be.
    """
    unknown = sorted(set(section) - set(_SETTINGS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(_SETTINGS)}")
    raw: object = env.get(f"{prefix}_URL") or section.get("url")
    if not raw:
        return None
    entries = [u.strip() for u in raw.split(",") if u.strip()] if isinstance(raw, str) else raw
    if not isinstance(entries, list) or not entries:
        raise ConfigError("`url` must be a URL or a list of them")
    model = env.get(f"{prefix}_MODEL") or section.get("model")
    if not model:
        raise ConfigError(f"a model name is needed with the URL: set `model:` or {prefix}_MODEL")
    shared = {
        name: _typed(name, section[name]) for name in _SETTINGS if name not in ("url", "model") and name in section
    }
    servers: list[Endpoint] = []
    for entry in entries:
        own = dict(shared)
        if isinstance(entry, Mapping):
            extra = sorted(set(entry) - {"url", "concurrency"})
            if extra or not entry.get("url"):
                raise ConfigError(f"a `url` entry takes `url` and `concurrency` only, found {dict(entry)!r}")
            if "concurrency" in entry:
                own["concurrency"] = _typed("concurrency", entry["concurrency"])
            entry = entry["url"]
        servers.append(Endpoint(str(entry), str(model), env.get(f"{prefix}_API_KEY", "none"), **own))  # type: ignore[arg-type]
    first, *rest = servers
    return dataclasses.replace(first, replicas=tuple(rest))


@dataclass
class CallStats:
    """What talking to the endpoints cost, for the run's summary."""

    requests: int = 0
    cached: int = 0
    retries: int = 0
    failures: int = 0
    parse_failures: int = 0
    cut_replies: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class Reply:
    text: str
    finish_reason: str | None = None

    @property
    def cut(self) -> bool:
        return self.finish_reason == "length"


@dataclass(frozen=True)
class Answered(Generic[T]):
    """A reply as read by the caller, and whether it was cut at max_tokens (what was before the cut read)."""

    value: T
    cut: bool


@dataclass(frozen=True)
class ReplyCache:
    """Usable replies on disk, keyed by model, messages and parameters: a rerun asks only what it lacks."""

    directory: Path

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Reply | None:
        try:
            stored = json.loads(self._path(key).read_text(encoding="utf-8"))
            return Reply(stored["reply"], stored.get("finish_reason"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, key: str, reply: Reply) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps({"reply": reply.text, "finish_reason": reply.finish_reason}), encoding="utf-8")
        scratch.replace(path)  # atomic: an interrupted run never leaves half a reply


def _retry_after(error: openai.APIStatusError) -> float | None:
    value = error.response.headers.get("retry-after") if error.response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _server_reason(error: openai.APIStatusError) -> str:
    """The server's own words: the error message of an OpenAI-style body, else the start of the body."""
    body: Any = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message is None and isinstance(body.get("detail"), (str, list)):
            message = body["detail"]
        text = message if isinstance(message, str) else json.dumps(message if message is not None else body)
    else:
        text = error.response.text if error.response is not None else str(error)
    return " ".join(str(text).split())[:300]


def _error_text(error: openai.APIStatusError) -> str:
    text = json.dumps(error.body) if error.body is not None else ""
    if error.response is not None:
        with contextlib.suppress(UnicodeDecodeError, AttributeError):
            text += error.response.text
    return text


def _refuses_response_format(error: openai.APIStatusError) -> bool:
    # llama-cpp-python answers a json_schema response_format with HTTP 500 (a pydantic literal error naming
    # response_format); other servers say 400 or 422. The body naming the field is what tells them apart.
    return error.status_code in (400, 422, 500) and "response_format" in _error_text(error)


def _refuses_samples(error: openai.APIStatusError) -> bool:
    # Whether an answer to a request for several choices may be about `n`. A 400 or 422 may be, whatever its
    # words: llama.cpp's own server says "Only one completion choice is allowed", older vLLM at temperature 0
    # "best_of must be 1 when using greedy sampling". A 500 only when it names the choices or the field.
    # Taking another error for this one costs a request, never a reply: asked for one reply, a server that
    # refuses anyway says so.
    if error.status_code in (400, 422):
        return True
    text = _error_text(error)
    named = "choice" in text.lower() or re.search(r"""['"`]n['"`]|\bn must\b""", text) is not None
    return error.status_code == 500 and named


def _connection_reason(error: BaseException) -> str:
    """The operating system's words ("Connection refused") from under the HTTP client's wrappers."""
    stack: list[BaseException] = [error]
    deepest = error
    while stack:
        current = stack.pop()
        if isinstance(current, OSError) and (current.errno or current.strerror):
            return os.strerror(current.errno) if current.errno else str(current.strerror)
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
        following = current.__cause__ or current.__context__
        if following is not None:
            deepest = following
            stack.append(following)
    return str(deepest) or str(error) or type(error).__name__


@dataclass
class _Server:
    """One server of the pool: its cap, its structured-output step, and its breaker."""

    endpoint: Endpoint
    client: openai.AsyncOpenAI
    gate: asyncio.Semaphore
    mode: OutputMode = OutputMode.JSON_SCHEMA
    broken: str | None = None  # why the breaker opened
    connection_failures: int = 0
    busy: int = 0
    samples: bool = True  # answers `n` > 1 with n choices; False once it refused or ignored `n`


BREAKER_AFTER = 3
"""Consecutive connection failures after which a server is taken as down for the rest of the run."""


@dataclass
class ModelClient:
    """Chat completions against an endpoint and its replicas. Every public call is safe to run concurrently."""

    endpoint: Endpoint
    cache: ReplyCache | None = None
    stats: CallStats = field(default_factory=CallStats)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    chars_per_token: float = 3.0  # until a probe measures the teacher's own tokenizer
    dropped: list[str] = field(default_factory=list)  # replicas left out while others answer, and why
    _servers: list[_Server] | None = field(default=None, init=False, repr=False)

    def _pool(self) -> list[_Server]:
        if self._servers is None:
            # Retries are ours (to count them and honour retry-after), so the client's own are off.
            self._servers = [
                _Server(e, openai.AsyncOpenAI(base_url=e.base_url, api_key=e.api_key, timeout=e.timeout_s,
                                              max_retries=0), asyncio.Semaphore(e.concurrency),
                        OutputMode.JSON_SCHEMA if e.structured else OutputMode.TEXT)
                for e in self.endpoint.all
            ]  # fmt: skip
        return self._servers

    async def aclose(self) -> None:
        """Closes every server's connections, in the event loop that used them (left open, they are closed at
        garbage collection inside whatever loop runs then, which logs a "loop is closed" error). The counts
        stay readable; the client is not used again."""
        for server in self._servers or ():
            await server.client.close()

    async def __aenter__(self) -> ModelClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    @property
    def output_mode(self) -> OutputMode:
        return min((s.mode for s in self._pool()), key=_LADDER.index)

    @property
    def gives_samples(self) -> bool:
        """Every server in use answers `n` > 1 with n choices (as far as the probe and the requests tell)."""
        return all(s.samples for s in self._pool() if s.broken is None)

    def tokens(self, text: str) -> int:
        """The teacher's tokens in `text`, from the ratio the probe measured."""
        return int(len(text) / self.chars_per_token) + 1

    def _pick(self) -> _Server:
        alive = [s for s in self._pool() if s.broken is None]
        if not alive:
            raise EndpointError("; ".join(f"{s.endpoint.base_url}: {s.broken}" for s in self._pool()))
        return min(alive, key=lambda s: s.busy / s.endpoint.concurrency)

    def cache_key(self, messages: list[Message], temperature: float, variant: str, max_tokens: int = 0) -> str:
        blob = json.dumps(
            {"model": self.endpoint.model, "messages": messages, "temperature": temperature,
             "max_tokens": max_tokens or self.endpoint.max_tokens, "variant": variant},
            sort_keys=True,
        )  # fmt: skip
        return hashlib.sha256(blob.encode()).hexdigest()

    async def probe(self) -> None:
        """One tiny request per server, before any real one: a server that is down or refuses is known at
        once, with its own reason; the structured-output step it takes and its tokens per character are
        learned. Raises EndpointError when no server can answer."""
        sample = "The quick brown fox jumps over the lazy dog. " * 20
        probe_schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}

        async def one(server: _Server) -> float | None:
            messages: list[Message] = [{"role": "user", "content": sample}]
            while True:
                try:
                    # Two choices, sampled (a server may refuse `n` > 1 when greedy): whether the server gives
                    # `n` is learned here, not on real requests.
                    response = await self._post(server, messages, 1.0, 1, probe_schema, None, 2)
                    if len(self._replies(server, response)) < 2:
                        server.samples = False
                except openai.APIStatusError as error:
                    if server.mode is not OutputMode.TEXT and _refuses_response_format(error):
                        server.mode = _LADDER[_LADDER.index(server.mode) + 1]
                        continue
                    if server.samples and _refuses_samples(error):
                        server.samples = False  # asked again without `n` before the server is taken as refusing
                        continue
                    if error.status_code in (408, 409, 429) or error.status_code >= 500:
                        return None  # busy, not refusing: the real requests retry
                    self._break(server, f"HTTP {error.status_code}: {_server_reason(error)}")
                    return None
                except (openai.APITimeoutError, openai.APIConnectionError) as error:
                    self._break(server, _connection_reason(error))
                    return None
                except (openai.APIResponseValidationError, TypeError, ValueError):
                    return None  # a broken body: the real requests retry
                usage = response.get("usage") if isinstance(response, dict) else None
                prompt_tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
                return len(sample) / prompt_tokens if isinstance(prompt_tokens, int) and prompt_tokens > 0 else None

        ratios = [r for r in await asyncio.gather(*(one(s) for s in self._pool())) if r]
        if ratios:
            self.chars_per_token = min(ratios)  # the template's own tokens count too: err towards more tokens
        self._pick()  # raises, naming every server and why, when none is left

    @staticmethod
    def _format_args(mode: OutputMode, schema: dict[str, Any] | None) -> dict[str, Any]:
        if schema is None or mode is OutputMode.TEXT:
            return {}
        if mode is OutputMode.JSON_SCHEMA:
            wrapped = {"name": "reply", "schema": schema, "strict": False}
            return {"response_format": {"type": "json_schema", "json_schema": wrapped}}
        # llama.cpp's own extension: a json_object with a schema is compiled to a grammar.
        return {"response_format": {"type": "json_object", "schema": schema}}

    def _break(self, server: _Server, reason: str) -> None:
        """Open `server`'s breaker; a replica left out while others answer is said once, with its reason."""
        if server.broken is None:
            server.broken = reason
            if len(self._pool()) > 1:
                self.dropped.append(f"teacher replica {server.endpoint.base_url} left out: {reason}")

    async def _request(
        self,
        messages: list[Message],
        temperature: float,
        max_tokens: int,
        schema: dict[str, Any] | None,
        seed: int | None,
        n: int = 1,
    ) -> list[Reply]:
        """`n` replies to one prompt: one request asking for `n` choices where the server gives them, else
        (remembered per server) one request per reply, each with its own seed."""
        replies = await self._send(messages, temperature, max_tokens, schema, seed, n)
        if len(replies) < n:
            seeds = [None if seed is None else (seed + i) % 2**32 for i in range(len(replies), n)]
            more = await asyncio.gather(*(self._send(messages, temperature, max_tokens, schema, s, 1) for s in seeds))
            replies += [reply for sent in more for reply in sent]
        return replies

    async def _send(
        self,
        messages: list[Message],
        temperature: float,
        max_tokens: int,
        schema: dict[str, Any] | None,
        seed: int | None,
        n: int,
    ) -> list[Reply]:
        """One request's replies: `n` of them, or fewer where the server does not give `n` choices."""
        last: Exception | None = None
        retry = 0
        while True:
            server = self._pick()
            wait: float | None = None
            server.busy += 1  # counted while queued too, so the next pick goes to the freer replica
            try:
                async with server.gate:
                    self.stats.requests += 1
                    started = time.monotonic()
                    try:
                        replies = self._replies(server, await self._post(server, messages, temperature,
                                                                         max_tokens, schema, seed, n))  # fmt: skip
                        if n > 1 and len(replies) < n:
                            server.samples = False  # llama-cpp-python takes `n` and gives one choice
                        return replies
                    except openai.APIStatusError as error:
                        server.connection_failures = 0
                        ladder = schema is not None and server.mode is not OutputMode.TEXT
                        if ladder and _refuses_response_format(error):
                            server.mode = _LADDER[_LADDER.index(server.mode) + 1]
                            continue  # the same request one step down the ladder: not a retry
                        # A refusal of several choices, or a 5xx that outlasted the retries, may be about `n`.
                        past_retries = error.status_code >= 500 and retry >= self.endpoint.retries
                        if n > 1 and server.samples and (_refuses_samples(error) or past_retries):
                            server.samples = False
                            continue  # the same request for one reply; the caller asks the others apart
                        if isinstance(error, (openai.RateLimitError, openai.InternalServerError)) or (
                            error.status_code in (408, 409)
                        ):
                            last, wait = error, _retry_after(error)
                        else:
                            self.stats.failures += 1
                            reason = f"{server.endpoint.base_url} refused the request: HTTP {error.status_code}: "
                            if error.status_code in (401, 403, 404):  # every later request would get the same
                                self._break(server, f"HTTP {error.status_code}: {_server_reason(error)}")
                            raise EndpointError(reason + _server_reason(error)) from error
                    except (openai.APITimeoutError, openai.APIConnectionError) as error:
                        last = error
                        if not isinstance(error, openai.APITimeoutError):
                            server.connection_failures += 1
                            if server.connection_failures >= BREAKER_AFTER:
                                self._break(server, _connection_reason(error))
                    except (openai.APIResponseValidationError, AttributeError, IndexError, TypeError,
                            ValueError) as error:  # fmt: skip
                        last = error  # a malformed body
                    finally:
                        self.stats.seconds += time.monotonic() - started
            finally:  # also when the request is cancelled while it waits for the gate
                server.busy -= 1
            if server.broken is not None and any(s.broken is None for s in self._pool()):
                continue  # another replica takes the request: not a retry
            if retry >= self.endpoint.retries or server.broken is not None:
                break
            backoff = self.endpoint.backoff_s * 2**retry * (0.5 + random.random())  # jitter
            retry += 1
            self.stats.retries += 1
            await self.sleep(max(wait or 0.0, backoff))
        self.stats.failures += 1
        if server.broken is not None:
            raise EndpointError(f"{server.endpoint.base_url} is down: {server.broken}")
        raise EndpointError(f"no answer after {retry + 1} tries: {_describe(last)}")

    async def _post(
        self,
        server: _Server,
        messages: list[Message],
        temperature: float,
        max_tokens: int,
        schema: dict[str, Any] | None,
        seed: int | None,
        n: int,
    ) -> object:
        # The body goes out as built and comes back as parsed JSON: openai's typed `create` walks every
        # message and schema key on the way out and builds models on the way back, which cost more client
        # CPU than the rest of the request.
        body: dict[str, Any] = {"model": server.endpoint.model, "messages": messages, "temperature": temperature,
                                "max_tokens": max_tokens, **self._format_args(server.mode, schema)}  # fmt: skip
        if seed is not None:
            body["seed"] = seed
        if n > 1 and server.samples:
            body["n"] = n
        return await server.client.post("/chat/completions", cast_to=object, body=body)

    def _replies(self, server: _Server, data: object) -> list[Reply]:
        """The choices of a completion body; raises ValueError (or TypeError) for a broken one."""
        if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
            raise ValueError("the endpoint answered with no choices")
        replies = []
        for choice in sorted(data["choices"], key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0):
            message = choice.get("message") if isinstance(choice, dict) else None
            text = message.get("content") if isinstance(message, dict) else None
            if not isinstance(text, str):
                raise ValueError("the endpoint answered with no message")
            replies.append(Reply(text, choice.get("finish_reason")))
        server.connection_failures = 0
        usage = data.get("usage")
        if isinstance(usage, dict):
            self.stats.prompt_tokens += int(usage.get("prompt_tokens") or 0)
            self.stats.completion_tokens += int(usage.get("completion_tokens") or 0)
        return replies

    async def chat(
        self, messages: list[Message], *, temperature: float | None = None, variant: str = "", max_tokens: int = 0
    ) -> str:
        """The model's reply text. Raises EndpointError when the endpoint cannot give one.

        Identical prompts sent on purpose for several samples carry distinct `variant`s, so each has its
        own cached reply and a rerun replays them all. A reply cut at max_tokens is returned but not cached.
        """
        temperature = self.endpoint.temperature if temperature is None else temperature
        max_tokens = max_tokens or self.endpoint.max_tokens
        key = self.cache_key(messages, temperature, variant, max_tokens)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.stats.cached += 1
            return hit.text
        reply = (await self._request(messages, temperature, max_tokens, None, _seed(variant)))[0]
        if reply.cut:
            self.stats.cut_replies += 1
        elif self.cache is not None:
            self.cache.put(key, reply)
        return reply.text

    async def chat_json(
        self, messages: list[Message], parse: Callable[[object], T], *, variant: str = "", **options: Any
    ) -> T:
        """A reply's JSON value read by `parse`; see `ask`."""
        answered = await self.ask(messages, lambda text: parse(extract_json(text)), variant=variant, **options)
        return answered.value

    async def ask(
        self,
        messages: list[Message],
        parse: Callable[[str], T],
        *,
        variant: str = "",
        schema: dict[str, Any] | None = None,
        max_tokens: int = 0,
        temperature: float | None = None,
    ) -> Answered[T]:
        """A reply's text read by `parse` (which raises ValueError, KeyError or TypeError on a reply it cannot use).

        `schema` is asked for through `response_format` where the endpoint takes it. An unreadable reply is
        counted and asked again once with another seed; a reply cut at max_tokens that `parse` cannot use
        raises ReplyCutError at once, since asking the same again would be cut the same way. Only replies
        `parse` accepts are cached.
        """
        (answered,) = await self.ask_samples(
            messages, parse, 1, variant=variant, schema=schema, max_tokens=max_tokens, temperature=temperature
        )
        if isinstance(answered, ReplyFormatError):
            raise answered
        return answered

    async def ask_samples(
        self,
        messages: list[Message],
        parse: Callable[[str], T],
        n: int,
        *,
        variant: str = "",
        schema: dict[str, Any] | None = None,
        max_tokens: int = 0,
        temperature: float | None = None,
    ) -> list[Answered[T] | ReplyFormatError]:
        """`n` samples of a reply to one prompt, each read by `parse` as `ask` reads one: asked in one request
        for `n` choices where the server gives them (one request each where it does not). Each sample stands
        alone: cached under its own key, asked again once when unreadable, and a ReplyCutError or
        ReplyFormatError in its place when it stays unusable; its siblings are kept. Raises EndpointError
        when the endpoint cannot answer."""
        temperature = self.endpoint.temperature if temperature is None else temperature
        max_tokens = max_tokens or self.endpoint.max_tokens
        results: dict[int, Answered[T] | ReplyFormatError] = {}
        pending = list(range(n))
        for attempt in range(2):
            replies: dict[int, tuple[Reply, bool]] = {}
            keys: dict[int, str] = {}
            for i in pending if self.cache is not None else ():  # without a cache, no key is worth its CPU
                keys[i] = self.cache_key(messages, temperature, _sample(variant, attempt, i), max_tokens)
                if (hit := self.cache.get(keys[i])) is not None:  # type: ignore[union-attr]
                    self.stats.cached += 1
                    replies[i] = (hit, True)
            asked = [i for i in pending if i not in replies]
            if asked:
                seed = _seed(_sample(variant, attempt, asked[0]))
                fresh = await self._request(messages, temperature, max_tokens, schema, seed, len(asked))
                replies |= {i: (reply, False) for i, reply in zip(asked, fresh, strict=False)}
            pending = []
            for i, (reply, cached) in sorted(replies.items()):
                if reply.cut and not cached:
                    self.stats.cut_replies += 1
                try:
                    value = parse(reply.text)
                except (ValueError, KeyError, TypeError) as error:
                    self.stats.parse_failures += 1
                    if reply.cut:
                        results[i] = ReplyCutError(f"the reply was cut at {max_tokens} tokens: {error}")
                    elif attempt == 0:
                        pending.append(i)
                    else:
                        results[i] = ReplyFormatError(f"the reply could not be read twice: {error}")
                    continue
                if self.cache is not None and not cached:
                    self.cache.put(keys[i], reply)
                results[i] = Answered(value, reply.cut)
            if not pending:
                break
        return [results[i] for i in range(n)]


def _sample(variant: str, attempt: int, index: int) -> str:
    """The variant of one sample of one try: the first sample's is a single reply's, so their cache is shared."""
    return f"{variant}/{attempt}" if index == 0 else f"{variant}/{attempt}/{index}"


def _seed(variant: str) -> int | None:
    """A sampling seed per variant: reproducible replies, and different ones for different variants."""
    return int(hashlib.sha256(variant.encode()).hexdigest()[:8], 16) if variant else None


def _describe(error: Exception | None) -> str:
    if isinstance(error, openai.APIStatusError):  # a busy or failing server: its status says it
        return f"HTTP {error.status_code}"
    if isinstance(error, openai.APITimeoutError):
        return "timed out"
    if isinstance(error, openai.APIConnectionError):
        return _connection_reason(error)
    return type(error).__name__ if error else "unknown error"


_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(reply: str) -> object:
    """The JSON value in a reply, tolerating a ``` fence or prose around it. Raises ValueError."""
    fenced = _FENCE.search(reply)
    text = fenced.group(1) if fenced else reply
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        raise ValueError("the reply holds no JSON")
    value, _ = json.JSONDecoder().raw_decode(text[min(starts) :])
    return value


def json_objects(reply: str) -> list[dict[str, Any]]:
    """Every innermost-complete JSON object in a reply that may be cut short, fenced, or broken between
    items: the pieces of a list whose whole cannot be read. Objects nested in a found one are not repeated."""
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    position = reply.find("{")
    while position >= 0:
        try:
            value, end = decoder.raw_decode(reply, position)
        except ValueError:
            position = reply.find("{", position + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        position = reply.find("{", end)
    return found
