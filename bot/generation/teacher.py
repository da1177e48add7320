"""Talking to a teacher or student model: any OpenAI-compatible endpoint, with retries, a cap and a cache."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import openai

from bot.errors import UsageError

T = TypeVar("T")

Message = dict[str, str]


class EndpointError(Exception):
    """The endpoint could not give an answer: after retries, or at once for errors retrying cannot fix."""


class ReplyFormatError(Exception):
    """The model answered, but not in the format asked for."""


class ConfigError(UsageError):
    """The endpoint's configuration is incomplete or wrong; the message says which setting."""


@dataclass(frozen=True)
class Endpoint:
    """Where a model is and how hard to push it."""

    base_url: str
    model: str
    api_key: str = "none"
    concurrency: int = 8
    timeout_s: float = 120.0
    retries: int = 4
    backoff_s: float = 1.0
    max_tokens: int = 2048
    temperature: float = 0.7


_SETTINGS = {"url": str, "model": str, "concurrency": int, "timeout_s": float, "retries": int,
             "backoff_s": float, "max_tokens": int, "temperature": float}  # fmt: skip


def endpoint_from(section: Mapping[str, object], env: Mapping[str, str], prefix: str) -> Endpoint | None:
    """An endpoint from a config section and `{prefix}_URL`, `_MODEL`, `_API_KEY`; None when no URL is set.

    The key comes only from the environment: a config file is committed, a key must not be.
    """
    unknown = sorted(set(section) - set(_SETTINGS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(_SETTINGS)}")
    url = env.get(f"{prefix}_URL") or section.get("url")
    if not url:
        return None
    model = env.get(f"{prefix}_MODEL") or section.get("model")
    if not model:
        raise ConfigError(f"a model name is needed with the URL: set `model:` or {prefix}_MODEL")
    values: dict[str, object] = {}
    for name, kind in _SETTINGS.items():
        if name in ("url", "model") or name not in section:
            continue
        try:
            values[name] = kind(section[name])  # type: ignore[call-arg]
        except (TypeError, ValueError):
            raise ConfigError(f"`{name}` must be a {kind.__name__}, found {section[name]!r}") from None
    return Endpoint(str(url), str(model), env.get(f"{prefix}_API_KEY", "none"), **values)  # type: ignore[arg-type]


@dataclass
class CallStats:
    """What talking to the endpoint cost, for the run's summary."""

    requests: int = 0
    cached: int = 0
    retries: int = 0
    failures: int = 0
    parse_failures: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class ReplyCache:
    """Replies on disk, keyed by model, messages and parameters: a rerun asks only what it lacks."""

    directory: Path

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        try:
            return json.loads(self._path(key).read_text(encoding="utf-8"))["reply"]
        except (OSError, ValueError, KeyError):
            return None

    def put(self, key: str, reply: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps({"reply": reply}), encoding="utf-8")
        scratch.replace(path)  # atomic: an interrupted run never leaves half a reply


def _retry_after(error: openai.APIStatusError) -> float | None:
    value = error.response.headers.get("retry-after") if error.response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


@dataclass
class ModelClient:
    """Chat completions against one endpoint. Every public call is safe to run concurrently."""

    endpoint: Endpoint
    cache: ReplyCache | None = None
    stats: CallStats = field(default_factory=CallStats)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    _client: openai.AsyncOpenAI | None = field(default=None, init=False, repr=False)
    _gate: asyncio.Semaphore | None = field(default=None, init=False, repr=False)

    def _connection(self) -> tuple[openai.AsyncOpenAI, asyncio.Semaphore]:
        if self._client is None or self._gate is None:
            # Retries are ours (to count them and honour retry-after), so the client's own are off.
            self._client = openai.AsyncOpenAI(
                base_url=self.endpoint.base_url,
                api_key=self.endpoint.api_key,
                timeout=self.endpoint.timeout_s,
                max_retries=0,
            )
            self._gate = asyncio.Semaphore(self.endpoint.concurrency)
        return self._client, self._gate

    def cache_key(self, messages: list[Message], temperature: float, variant: str) -> str:
        blob = json.dumps(
            {"model": self.endpoint.model, "messages": messages, "temperature": temperature,
             "max_tokens": self.endpoint.max_tokens, "variant": variant},
            sort_keys=True,
        )  # fmt: skip
        return hashlib.sha256(blob.encode()).hexdigest()

    async def chat(self, messages: list[Message], *, temperature: float | None = None, variant: str = "") -> str:
        """The model's reply text. Raises EndpointError when the endpoint cannot give one.

        Identical prompts sent on purpose for several samples carry distinct `variant`s, so each has its
        own cached reply and a rerun replays them all.
        """
        temperature = self.endpoint.temperature if temperature is None else temperature
        key = self.cache_key(messages, temperature, variant)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            self.stats.cached += 1
            return hit
        client, gate = self._connection()
        last: Exception | None = None
        for retry in range(self.endpoint.retries + 1):
            if retry:
                self.stats.retries += 1
            wait: float | None = None
            async with gate:
                self.stats.requests += 1
                started = time.monotonic()
                try:
                    response = await client.chat.completions.create(
                        model=self.endpoint.model,
                        messages=messages,  # type: ignore[arg-type]
                        temperature=temperature,
                        max_tokens=self.endpoint.max_tokens,
                    )
                    # openai does not wrap a broken 200 body: it hands back a str, or `choices` of None.
                    reply = response.choices[0].message.content if response.choices else None
                    if reply is None:
                        raise ValueError("the endpoint answered with no message")
                    if self.cache is not None:
                        self.cache.put(key, reply)
                    return reply
                except (openai.RateLimitError, openai.InternalServerError) as error:
                    last, wait = error, _retry_after(error)
                except openai.APIStatusError as error:
                    if error.status_code < 500 and error.status_code not in (408, 409, 429):
                        self.stats.failures += 1
                        raise EndpointError(f"the endpoint refused the request: HTTP {error.status_code}") from error
                    last = error
                except (openai.APITimeoutError, openai.APIConnectionError, openai.APIResponseValidationError) as error:
                    last = error
                except (AttributeError, IndexError, TypeError, ValueError) as error:  # a malformed body
                    last = error
                finally:
                    self.stats.seconds += time.monotonic() - started
            if retry < self.endpoint.retries:
                backoff = self.endpoint.backoff_s * 2**retry * (0.5 + random.random())  # jitter
                await self.sleep(max(wait or 0.0, backoff))
        self.stats.failures += 1
        raise EndpointError(f"no answer after {self.endpoint.retries + 1} tries: {_describe(last)}")

    async def chat_json(self, messages: list[Message], parse: Callable[[object], T], *, variant: str = "") -> T:
        """A reply parsed as JSON by `parse`; a reply that cannot be parsed is counted and asked again once."""
        problem: Exception | None = None
        for attempt in range(2):
            reply = await self.chat(messages, variant=f"{variant}/{attempt}")
            try:
                return parse(extract_json(reply))
            except (ValueError, KeyError, TypeError) as error:
                self.stats.parse_failures += 1
                problem = error
        raise ReplyFormatError(f"the reply could not be read twice: {problem}")


def _describe(error: Exception | None) -> str:
    if isinstance(error, openai.APIStatusError):
        return f"HTTP {error.status_code}"
    if isinstance(error, openai.APITimeoutError):
        return "timed out"
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
