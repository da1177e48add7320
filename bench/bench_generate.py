"""Benchmark: `taxbot generate` wall time against the ideal, with the teacher at a fixed latency.

Run by hand:  python bench/bench_generate.py [--latency 0.05] [--concurrency 8] [--per-leaf 20]
                 [--context-tokens 4096] [--max-tokens 2048]

A scripted OpenAI-compatible server on 127.0.0.1 answers every request after `--latency` seconds. It runs
in its own process, as a remote teacher would, so its threads do not compete with the client for the
GIL (`--same-process` puts it beside the client, for comparison). The ideal wall time is
requests x latency / concurrency; goal: within 1.1x of it. It also prints requests per candidate pair
(goal: at most 0.5; the reference pipelines spend about 3), split by leaf kind: requests are sized to the
teacher's context, so a grounded skill whose seeds are long is asked for fewer items per request on a small
context (`--context-tokens 32768 --max-tokens 4096` is a Mixtral-class teacher served by vLLM).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.generation.generate import candidates_made, generate
from bot.generation.pipelines import Plan
from bot.generation.teacher import Endpoint, ModelClient
from bot.taxonomy.tree import load_directory
from tests.fakes.lab_teacher import LabTeacher
from tests.fakes.openai_server import FakeOpenAI


def _serve(latency: float, pipe: Connection) -> None:
    with FakeOpenAI(LabTeacher()) as server:
        server.add_latency(latency, times=None)
        pipe.send(server.base_url)
        pipe.recv()  # until the benchmark is done


@contextlib.contextmanager
def teacher(latency: float, same_process: bool) -> Iterator[str]:
    if same_process:
        with FakeOpenAI(LabTeacher()) as server:
            server.add_latency(latency, times=None)
            yield server.base_url
        return
    ours, theirs = multiprocessing.Pipe()
    process = multiprocessing.get_context("fork").Process(target=_serve, args=(latency, theirs), daemon=True)
    process.start()
    try:
        yield ours.recv()
    finally:
        ours.send("done")
        process.join(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--per-leaf", type=int, default=20)
    parser.add_argument("--leaves", type=int, default=40)
    parser.add_argument("--context-tokens", type=int, default=4096, help="the teacher's context (4096)")
    parser.add_argument("--max-tokens", type=int, default=2048, help="the reply budget per request (2048)")
    parser.add_argument("--same-process", action="store_true", help="run the server beside the client")
    args = parser.parse_args()
    taxonomy = load_directory(Path(args.shared) / "taxonomy-2024-08")
    leaves = [leaf for leaf in taxonomy.leaves.values() if leaf.kind.is_skill][: args.leaves]
    with teacher(args.latency, args.same_process) as url, tempfile.TemporaryDirectory() as scratch:
        endpoint = Endpoint(url, "fake-teacher", concurrency=args.concurrency, context_tokens=args.context_tokens,
                            max_tokens=args.max_tokens)  # fmt: skip
        client = ModelClient(endpoint)
        started = time.monotonic()
        reports = asyncio.run(
            generate(
                leaves,
                client,
                Plan(target=args.per_leaf),
                store=None,
                mode="bench",
                cache_dir=Path(scratch),
                progress=lambda *_: None,
            )
        )
        wall = time.monotonic() - started
    requests = client.stats.requests
    ideal = requests * args.latency / args.concurrency
    candidates = candidates_made(reports)
    kept = sum(r.kept for r in reports)
    print(f"{len(leaves)} skill leaves x {args.per_leaf} pairs: {kept} kept of {candidates} candidates")
    print(f"requests: {requests} ({requests / candidates:.3f} per candidate pair; reference pipelines ~3)")
    for kind in sorted({r.kind for r in reports}):
        mine = [r for r in reports if r.kind == kind]
        # Each leaf's requests: its generation requests (candidates / items per request) and its judging.
        made = sum(r.candidates for r in mine)
        print(f"  {kind}: {len(mine)} leaves, {made} candidates, {sum(r.kept for r in mine)} kept")
    print(f"teacher tokens: {client.stats.prompt_tokens} prompt + {client.stats.completion_tokens} completion "
          f"(the fake counts words)")  # fmt: skip
    print(
        f"wall {wall:.2f} s, ideal {ideal:.2f} s (requests x {args.latency} s / {args.concurrency}): "
        f"{wall / ideal:.2f}x the ideal"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
