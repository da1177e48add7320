"""Benchmark: `taxbot generate` wall time against the ideal, with the teacher at a fixed latency.

Run by hand:  python bench/bench_generate.py [--latency 0.05] [--concurrency 8] [--per-leaf 20]
                 [--context-tokens 4096] [--max-tokens 2048] [--samples 4] [--repeat 3]

A scripted OpenAI-compatible server on 127.0.0.1 answers every request `--latency` seconds after reading
it, writing its reply included. It runs in its own process, as a remote teacher would, so its threads do
not compete with the client for the GIL, and it counts what it received: the requests below are HTTP
requests as the teacher saw them, the probe included. The ideal wall time is requests x latency /
concurrency; goal: within 1.1x of it (the median of `--repeat` runs). Beside it, baselines measured in
the same run against the same teacher: the round trip of a minimal request alone, and with
`--concurrency` of them at once (what the HTTP stacks of the fake and of the client cost on this
machine, which no pipeline can save), and the floor of any Python client here: a bare httpx client
against a bare asyncio server that only waits the latency. It also prints requests per candidate pair
(goal: at most 0.5; the reference pipelines spend about 3), and what generation and the LAB judge each
cost in requests and words.
Requests are sized to the teacher's context: a grounded skill whose seeds are long is asked for fewer
items per reply on a small context, and for several replies (`n`) in one request where the teacher
gives them (`--samples 1` is a teacher that does not, such as llama.cpp's servers);
`--context-tokens 32768 --max-tokens 4096` is a Mixtral-class teacher served by vLLM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.generation.generate import LeafReport, candidates_made, generate
from bot.generation.pipelines import Plan
from bot.generation.teacher import Endpoint, ModelClient
from bot.taxonomy.tree import Leaf, load_directory
from tests.fakes.lab_teacher import LabTeacher
from tests.fakes.openai_server import FakeOpenAI


@dataclass
class Tally:
    """What the teacher received, counted on its side: HTTP requests, replies and words, by kind of prompt."""

    requests: Counter[str] = field(default_factory=Counter)
    replies: Counter[str] = field(default_factory=Counter)
    prompt_words: Counter[str] = field(default_factory=Counter)
    completion_words: Counter[str] = field(default_factory=Counter)


class Counted:
    """The scripted teacher at a fixed latency, counting each request by kind: `generate` (its leaf kind),
    `judge`, or `probe`. Its answer leaves `latency` seconds after the request was read, its own work
    included: writing the replies is the teacher's time, not the client's."""

    def __init__(self, latency: float) -> None:
        self.teacher, self.tally, self.lock, self.latency = LabTeacher(), Tally(), threading.Lock(), latency

    def __call__(self, request: dict[str, Any]) -> str | list[str]:
        started = time.monotonic()
        system = request["messages"][0]["content"]
        kind = system.split(" ", 1)[0].removeprefix("taxbot:") if system.startswith("taxbot:") else "probe"
        kind = "judge" if kind == "judge" else "probe" if kind == "probe" else f"generate ({kind})"
        answer = self.teacher(request)
        replies = [answer] if isinstance(answer, str) else answer
        with self.lock:
            self.tally.requests[kind] += 1
            self.tally.replies[kind] += len(replies)
            self.tally.prompt_words[kind] += sum(len(str(m["content"]).split()) for m in request["messages"])
            self.tally.completion_words[kind] += sum(len(r.split()) for r in replies)
        time.sleep(max(0.0, self.latency - (time.monotonic() - started)))
        return answer


def _serve(latency: float, pipe: Connection) -> None:
    script = Counted(latency)
    with FakeOpenAI(script) as server:
        pipe.send(server.base_url)
        while pipe.recv() == "tally":  # until the benchmark is done
            pipe.send(script.tally)


@contextlib.contextmanager
def _process(serve: Callable[[float, Connection], None], latency: float) -> Iterator[tuple[Any, Connection]]:
    """`serve` in a process of its own, as a remote server would be, so its threads do not compete with the
    client for the GIL: what it sends first (where it listens), and the pipe to it, told "done" at the end."""
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=serve, args=(latency, theirs), daemon=True)
    process.start()
    try:
        yield ours.recv(), ours
    finally:
        ours.send("done")
        process.join(timeout=10)


@contextlib.contextmanager
def teacher(latency: float) -> Iterator[tuple[str, Callable[[], Tally]]]:
    """The teacher's URL, and what it was asked, counted on its side, after the run."""
    with _process(_serve, latency) as (url, pipe):

        def tally() -> Tally:
            pipe.send("tally")
            return pipe.recv()

        yield url, tally


async def _median_time(send: Callable[[str], Awaitable[object]], at_once: int, times: int) -> float:
    """The median time of `send`, `at_once` of them together, over `times` rounds once the connections are open."""

    async def one(name: str) -> float:
        started = time.monotonic()
        await send(name)
        return time.monotonic() - started

    await asyncio.gather(*(one(f"open {i}") for i in range(at_once)))  # the connections are opened
    spent = [t for i in range(times) for t in await asyncio.gather(*(one(f"{i}/{j}") for j in range(at_once)))]
    return statistics.median(spent)


async def round_trip(url: str, at_once: int, times: int = 15) -> float:
    """The median time of a minimal request to the teacher, `at_once` of them together: the latency plus
    what the HTTP stacks of this fake and of the client cost on this machine, which no pipeline can save."""
    ping = [{"role": "user", "content": "ping"}]
    async with ModelClient(Endpoint(url, "fake-teacher", concurrency=at_once)) as client:
        return await _median_time(lambda name: client.chat(ping, variant=name), at_once, times)


_BARE_REPLY = (
    b'{"object": "chat.completion", "choices": [{"index": 0, "finish_reason": "stop", '
    b'"message": {"role": "assistant", "content": "{}"}}]}'
)


async def _bare_answer(latency: float, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HTTP/1.1 keep-alive, nothing parsed but the body's length, each answer `latency` after its request."""
    with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            started = time.monotonic()
            sizes = [
                line.split(b":", 1)[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
            ]
            await reader.readexactly(int(sizes[0]) if sizes else 0)
            await asyncio.sleep(latency - (time.monotonic() - started))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(_BARE_REPLY), _BARE_REPLY))  # fmt: skip
            await writer.drain()
    writer.close()


def _serve_bare(latency: float, pipe: Connection) -> None:
    async def serve() -> None:
        server = await asyncio.start_server(lambda r, w: _bare_answer(latency, r, w), "127.0.0.1", 0)
        pipe.send(server.sockets[0].getsockname()[1])
        async with server:
            await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # until the benchmark is done

    asyncio.run(serve())


def transport_floor(latency: float, at_once: int, times: int = 15) -> float:
    """The median time of a request from a bare httpx client to a bare asyncio server that only waits
    `latency`, `at_once` of them together: what any Python client on this machine pays, before taxbot."""
    import httpx

    async def measure(port: int) -> float:
        body = {"model": "bare", "messages": [{"role": "user", "content": "ping"}]}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/v1", timeout=10) as client:

            async def send(name: str) -> None:
                (await client.post("/chat/completions", json=body)).json()

            return await _median_time(send, at_once, times)

    with _process(_serve_bare, latency) as (port, _):
        return asyncio.run(measure(port))


@dataclass
class Run:
    wall: float
    round_trip: float  # a lone minimal request's
    round_trip_at_once: float  # a minimal request's, `--concurrency` of them together
    tally: Tally
    reports: list[LeafReport]
    client: ModelClient


def run_once(args: argparse.Namespace, leaves: list[Leaf]) -> Run:
    with teacher(args.latency) as (url, tally), tempfile.TemporaryDirectory() as scratch:
        endpoint = Endpoint(url, "fake-teacher", concurrency=args.concurrency, context_tokens=args.context_tokens,
                            max_tokens=args.max_tokens)  # fmt: skip
        client = ModelClient(endpoint)
        plan = Plan(target=args.per_leaf, samples=args.samples)
        started = time.monotonic()
        reports = asyncio.run(
            generate(leaves, client, plan, store=None, mode="bench", cache_dir=Path(scratch), progress=lambda *_: None)
        )
        wall = time.monotonic() - started
        received = tally()  # before the round trips, which are not the run's
        lone, at_once = asyncio.run(round_trip(url, 1)), asyncio.run(round_trip(url, args.concurrency))
        return Run(wall, lone, at_once, received, reports, client)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--per-leaf", type=int, default=20)
    parser.add_argument("--leaves", type=int, default=40)
    parser.add_argument("--context-tokens", type=int, default=4096, help="the teacher's context (4096)")
    parser.add_argument("--max-tokens", type=int, default=2048, help="the reply budget per request (2048)")
    parser.add_argument("--samples", type=int, default=Plan(target=1).samples,
                        help="replies asked per prompt in one request (`n`); 1 is a teacher without `n`")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="runs; the wall time reported is their median")
    args = parser.parse_args()
    taxonomy = load_directory(Path(args.shared) / "taxonomy-2024-08")
    leaves = [leaf for leaf in taxonomy.leaves.values() if leaf.kind.is_skill][: args.leaves]
    ratios, trip_ratios, together_ratios = [], [], []
    for _ in range(args.repeat):
        run = run_once(args, leaves)
        tally, reports, client = run.tally, run.reports, run.client
        requests = sum(tally.requests.values())  # as the teacher received them: the probe included
        ideal = requests * args.latency / args.concurrency
        floor = requests * run.round_trip / args.concurrency
        together = requests * run.round_trip_at_once / args.concurrency
        ratios.append(run.wall / ideal)
        trip_ratios.append(run.wall / floor)
        together_ratios.append(run.wall / together)
        print(f"wall {run.wall:.2f} s, ideal {ideal:.2f} s (requests x {args.latency} s / {args.concurrency}): "
              f"{run.wall / ideal:.2f}x the ideal; a minimal request takes {run.round_trip * 1000:.1f} ms alone "
              f"({run.wall / floor:.2f}x requests x that / {args.concurrency}), {run.round_trip_at_once * 1000:.1f} "
              f"ms {args.concurrency} at once ({run.wall / together:.2f}x)")  # fmt: skip
    bare = transport_floor(args.latency, args.concurrency)
    print(f"transport floor: a bare httpx client and a bare asyncio server that only waits {args.latency} s take "
          f"{bare * 1000:.1f} ms per request {args.concurrency} at once, {bare / args.latency:.2f}x the latency "
          f"(what a Python client pays on this machine, before any pipeline)")  # fmt: skip
    candidates = candidates_made(reports)
    kept = sum(r.kept for r in reports)
    print(f"{len(leaves)} skill leaves x {args.per_leaf} pairs: {kept} kept of {candidates} candidates")
    print(f"requests received by the teacher: {requests} ({requests / candidates:.3f} per candidate pair; "
          f"reference pipelines ~3); the client counted {client.stats.requests} and the probe")  # fmt: skip
    for kind in sorted({r.kind for r in reports}):
        mine = [r for r in reports if r.kind == kind]
        made = sum(r.candidates for r in mine)
        print(f"  {kind}: {len(mine)} leaves, {made} candidates, {sum(r.kept for r in mine)} kept")
    total_words = sum(tally.prompt_words.values()) + sum(tally.completion_words.values())
    for kind in sorted(tally.requests):
        words = tally.prompt_words[kind] + tally.completion_words[kind]
        print(f"  {kind}: {tally.requests[kind]} requests for {tally.replies[kind]} replies, "
              f"{tally.prompt_words[kind]} prompt + {tally.completion_words[kind]} completion words "
              f"({words / total_words:.0%} of the teacher's words)")  # fmt: skip
    print(f"teacher tokens: {client.stats.prompt_tokens} prompt + {client.stats.completion_tokens} completion "
          f"(the fake counts words)")  # fmt: skip
    print(f"median of {len(ratios)} runs: {statistics.median(ratios):.2f}x the ideal, "
          f"{statistics.median(trip_ratios):.2f}x the lone round trip's, "
          f"{statistics.median(together_ratios):.2f}x the round trip's {args.concurrency} at once")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
