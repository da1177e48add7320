"""A scripted OpenAI-compatible teacher server: chat completions from a test's script, with faults."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Self

from tests.fakes.serving import Fault, LoopbackServer, ReceivedRequest, Reply

CHAT_PATH = "/v1/chat/completions"

# A script answers one chat-completion request (its JSON body): a string is the reply content (every choice
# when `n` > 1), a list gives one content per choice (cycled up to `n`), a dict is sent as the whole body.
Script = Callable[[dict[str, Any]], str | list[str] | dict[str, Any]]
RequestPredicate = Callable[[dict[str, Any]], bool]


def echo_script(request: dict[str, Any]) -> str:
    """The default script: echo the last user message, so replies are deterministic."""
    user_messages = [m for m in request.get("messages", []) if m.get("role") == "user"]
    return f"echo: {_text(user_messages[-1]) if user_messages else ''}"


class InFlight:
    """A script that holds each answer `seconds` and records the most requests answered at once."""

    def __init__(self, script: Script = echo_script, seconds: float = 0.2) -> None:
        self.script, self.seconds = script, seconds
        self.most = 0
        self._now = 0
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str | list[str] | dict[str, Any]:
        with self._lock:
            self._now += 1
            self.most = max(self.most, self._now)
        time.sleep(self.seconds)
        with self._lock:
            self._now -= 1
        return self.script(request)


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):  # content parts: [{"type": "text", "text": ...}, ...]
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return "" if content is None else str(content)


def _tokens(text: str) -> int:
    """Usage counts words: deterministic, and close enough for tests of budgets."""
    return len(text.split())


def _error(status: int, message: str, type_: str, code: str | None = None) -> Reply:
    return Reply(status, {"error": {"message": message, "type": type_, "param": None, "code": code}})


def _retry_headers(retry_after: float | None) -> dict[str, str]:
    # openai-python prefers retry-after-ms and also reads fractional retry-after; other clients expect
    # whole seconds in retry-after, so send both.
    if retry_after is None:
        return {}
    return {"retry-after": str(math.ceil(retry_after)), "retry-after-ms": str(round(retry_after * 1000))}


class FakeOpenAI:
    """The teacher endpoint. Use as a context manager; point a client at `base_url` (it ends in `/v1`).

    Faults (each for the next `times` chat requests, `None` for all, and only those where `when(body)` is
    true) are consulted in the order they were added; requests they do not take go to the script.
    """

    def __init__(self, script: Script = echo_script, *, model: str = "fake-teacher", api_key: str | None = None):
        self.script = script
        self.model = model
        self.api_key = api_key
        self._ids = itertools.count(1)
        self._one_choice = False
        self._server = LoopbackServer(self._handle)

    @property
    def base_url(self) -> str:
        return f"{self._server.origin}/v1"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received, faulted ones included, oldest first."""
        return self._server.requests

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of every chat-completion request received, oldest first."""
        return [r.json() for r in self.requests if r.method == "POST" and r.path == CHAT_PATH]

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

    def completion(
        self,
        request: dict[str, Any],
        contents: list[str],
        *,
        finish_reason: str = "stop",
    ) -> dict[str, Any]:
        """A chat-completion body in the real response shape, one choice per content."""
        prompt_tokens = sum(_tokens(_text(m)) for m in request.get("messages", []))
        completion_tokens = sum(_tokens(c) for c in contents)
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model", self.model),
            "choices": [
                {
                    "index": i,
                    "message": {"role": "assistant", "content": content, "refusal": None},
                    "logprobs": None,
                    "finish_reason": finish_reason,
                }
                for i, content in enumerate(contents)
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
            "system_fingerprint": "fp_fake",
        }

    def add_latency(self, seconds: float, *, times: int | None = None, when: RequestPredicate | None = None) -> None:
        """Answer normally, but only after `seconds`."""
        self._add(Fault(self._chat_matcher(when), times, delay=seconds))

    def hang(self, seconds: float = 30.0, *, times: int | None = 1, when: RequestPredicate | None = None) -> None:
        """Say nothing for `seconds` (longer than the client's timeout), then answer normally."""
        self._add(Fault(self._chat_matcher(when), times, delay=seconds))

    def fail(
        self,
        status: int = 500,
        *,
        times: int | None = 1,
        retry_after: float | None = None,
        when: RequestPredicate | None = None,
    ) -> None:
        """Answer with an OpenAI-style error (429 is a rate limit, 5xx a server error)."""
        if status == 429:
            reply = _error(429, "Rate limit reached for requests", "requests", "rate_limit_exceeded")
        else:
            reply = _error(status, "The server had an error while processing your request.", "server_error")
        reply = Reply(reply.status, reply.body, _retry_headers(retry_after))
        self._add(Fault(self._chat_matcher(when), times, reply=lambda _: reply))

    def malformed(self, kind: str = "not_json", *, times: int | None = 1, when: RequestPredicate | None = None) -> None:
        """Answer 200 with a broken body: `not_json` (an HTML error page sent as application/json),
        `text` (the same page as text/html), or `no_choices` (JSON without `choices`)."""
        page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
        replies = {
            "not_json": Reply(200, text=page),
            "text": Reply(200, text=page, content_type="text/html"),
            "no_choices": Reply(200, {"id": "chatcmpl-broken", "object": "chat.completion", "model": self.model}),
        }
        if kind not in replies:
            raise ValueError(f"unknown malformed kind {kind!r}; use one of {sorted(replies)}")
        reply = replies[kind]
        self._add(Fault(self._chat_matcher(when), times, reply=lambda _: reply))

    def unparseable(
        self,
        content: str = "Sure! Here you go: {{not yaml, not json",
        *,
        times: int | None = 1,
        when: RequestPredicate | None = None,
    ) -> None:
        """Answer a well-formed completion whose content is text the caller cannot parse."""
        self._add(
            Fault(
                self._chat_matcher(when),
                times,
                reply=lambda request: Reply(200, self.completion(request.json(), [content] * _n(request.json()))),
            )
        )

    def refuse_response_format(self, *types: str, status: int = 500, times: int | None = None) -> None:
        """Refuse requests whose `response_format` is of one of `types`, as llama-cpp-python refuses
        `json_schema` (HTTP 500, a pydantic literal error naming the field)."""
        message = (
            "1 validation error for CreateChatCompletionRequest\nresponse_format.type\n  Input should be 'text' "
            "or 'json_object'"
        )
        reply = _error(status, message, "internal_server_error")

        def asks(body: dict[str, Any]) -> bool:
            return isinstance(body.get("response_format"), dict) and body["response_format"].get("type") in types

        self._add(Fault(self._chat_matcher(asks), times, reply=lambda _: reply))

    def refuse_samples(
        self, *, times: int | None = None, status: int = 400, message: str = "Only one completion choice is allowed"
    ) -> None:
        """Refuse requests asking `n` > 1 choices: by default as llama.cpp's own server does (HTTP 400); older
        vLLM says "best_of must be 1 when using greedy sampling", a server without a check a bare 500."""
        reply = _error(status, message, "invalid_request_error" if status < 500 else "server_error")
        self._add(Fault(self._chat_matcher(lambda body: _n(body) > 1), times, reply=lambda _: reply))

    def ignore_samples(self) -> None:
        """Give one choice whatever `n` asks, as llama-cpp-python does (it takes the field and ignores it)."""
        self._one_choice = True

    def clear_faults(self) -> None:
        self._server.clear_faults()

    def _add(self, fault: Fault) -> None:
        self._server.add_fault(fault)

    @staticmethod
    def _chat_matcher(when: RequestPredicate | None) -> Callable[[ReceivedRequest], bool]:
        def matches(request: ReceivedRequest) -> bool:
            if request.method != "POST" or request.path != CHAT_PATH:
                return False
            return when is None or when(request.json())

        return matches

    def _handle(self, request: ReceivedRequest) -> Reply:
        if self.api_key is not None and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if request.method == "GET" and request.path == "/v1/models":
            model = {"id": self.model, "object": "model", "created": 0, "owned_by": "taxbot-tests"}
            return Reply(200, {"object": "list", "data": [model]})
        if request.method == "POST" and request.path == CHAT_PATH:
            return self._chat(request.json())
        return _error(404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error")

    def _chat(self, body: dict[str, Any]) -> Reply:
        if not isinstance(body.get("model"), str):
            return _error(400, "you must provide a model parameter", "invalid_request_error")
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return _error(400, "'messages' must contain at least one message.", "invalid_request_error")
        n = 1 if self._one_choice else _n(body)
        answer = self.script({**body, "n": 1} if self._one_choice else body)
        if isinstance(answer, dict):
            return Reply(200, answer)
        contents = [answer] if isinstance(answer, str) else answer
        contents = list(itertools.islice(itertools.cycle(contents), n))
        # As a real server does: a reply longer than max_tokens (counted in words here) is cut there.
        limit = body.get("max_tokens") or body.get("max_completion_tokens")
        if isinstance(limit, int) and any(_tokens(c) > limit for c in contents):
            cut = [" ".join(c.split(" ")[:limit]) if _tokens(c) > limit else c for c in contents]
            return Reply(200, self.completion(body, cut, finish_reason="length"))
        return Reply(200, self.completion(body, contents))


def _n(body: dict[str, Any]) -> int:
    return int(body.get("n") or 1)
