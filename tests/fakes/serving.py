"""A loopback HTTP server on a background thread, recording requests and injecting faults, for the fakes."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import traceback
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server saw it: `path` as sent (still percent-encoded, no query string) and
    `body` as parsed JSON, the raw text when it is not JSON, or None when empty."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; an empty dict when it is anything else."""
        return self.body if isinstance(self.body, dict) else {}


@dataclass(frozen=True)
class Reply:
    """What the server answers: a JSON value, or `text` sent verbatim with `content_type`."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    content_type: str = "application/json; charset=utf-8"
    data: bytes | None = None  # sent verbatim, for file downloads (model weights are not text)

    def encode(self) -> bytes:
        if self.data is not None:
            return self.data
        if self.text is not None:
            return self.text.encode()
        if self.body is None:
            return b""
        return json.dumps(self.body).encode()


Matcher = Callable[[ReceivedRequest], bool]


@dataclass
class Fault:
    """Delay, then answer `reply` instead of the real handler, for the next `times` matching requests.

    `times=None` never runs out. `reply=None` delays only and lets the real handler answer.
    """

    matches: Matcher
    times: int | None = 1
    delay: float = 0.0
    reply: Callable[[ReceivedRequest], Reply] | None = None


def route_matcher(method: str | None, path: str | None) -> Matcher:
    """Match requests by HTTP method (exact, any case) and a regex searched in the path; None matches all."""
    pattern = re.compile(path) if path is not None else None

    def matches(request: ReceivedRequest) -> bool:
        if method is not None and request.method != method.upper():
            return False
        return pattern is None or pattern.search(request.path) is not None

    return matches


def closed_url(path: str = "/v1") -> str:
    """A loopback URL where nothing listens (a port taken, then let go): a server that is down."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


class LoopbackServer:
    """ThreadingHTTPServer on 127.0.0.1 with an ephemeral port; `handle` answers every request.

    Every request is recorded before it is answered. Faults are consulted in the order they were added;
    the first one that matches and has not run out applies. Delays end early when the server stops, so a
    hanging request never holds up a test's teardown.
    """

    def __init__(self, handle: Callable[[ReceivedRequest], Reply]) -> None:
        self._handle = handle
        self._lock = threading.Lock()
        self._requests: list[ReceivedRequest] = []
        self._faults: list[Fault] = []
        self._stopping = threading.Event()
        self._httpd = _Listening(("127.0.0.1", 0), _handler_class(self))
        self._httpd.daemon_threads = True
        # A short poll interval, because shutdown() waits for the serving loop's next poll.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.01,), name="fake-server", daemon=True)

    @property
    def origin(self) -> str:
        """`http://127.0.0.1:PORT`, with no trailing slash."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[ReceivedRequest]:
        """A snapshot of every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _take_fault(self, request: ReceivedRequest) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.times != 0 and fault.matches(request):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    def _answer(self, request: ReceivedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
        fault = self._take_fault(request)
        if fault is not None:
            self._stopping.wait(fault.delay)
            if fault.reply is not None:
                return fault.reply(request)
        try:
            return self._handle(request)
        except Exception as error:
            # A broken script or handler must fail the test visibly, not leave the client without a reply.
            traceback.print_exc()
            return Reply(500, {"message": f"fake server error: {error!r}"})


class _Listening(ThreadingHTTPServer):
    # socketserver's backlog is 5: a client opening more connections at once (the model client's
    # concurrency) has the rest dropped and resent a second later by TCP. Real servers listen deeper.
    request_queue_size = 128


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


def _handler_class(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # Keep-alive like the real services; an idle connection's thread ends after `timeout` seconds.
        protocol_version = "HTTP/1.1"
        timeout = 10
        # Headers and body go out in separate writes; with Nagle on, each reply would stall ~40 ms.
        disable_nagle_algorithm = True

        def _dispatch(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            url = urllib.parse.urlsplit(self.path)
            request = ReceivedRequest(
                method=self.command,
                path=url.path,
                query=dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=_parse_body(raw),
                at=time.monotonic(),
            )
            reply = server._answer(request)
            payload = reply.encode()
            try:
                self.send_response(reply.status)
                if payload:
                    self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":  # HEAD: GET's headers, Content-Length included, and no body
                    self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                # The client gave up (its timeout ran out during a hang); nothing is left to answer.
                self.close_connection = True

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch
        do_HEAD = _dispatch  # the Hub client reads a file's size, etag and commit with HEAD

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: tests read `requests`, not stderr."""

    return Handler
