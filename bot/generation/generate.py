"""`taxbot generate`: sample pairs for a pull request, or full sets for a release, with a summary."""

from __future__ import annotations

import asyncio
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.generation.datasets import Record, Store, build_phase_sets, leaf_key, outcome_records, write_jsonl
from bot.generation.documents import DocumentError, fetch_documents
from bot.generation.pipelines import Plan, generate_leaf
from bot.generation.teacher import ModelClient
from bot.taxonomy.tree import Leaf, LeafKind


@dataclass
class LeafReport:
    """What one leaf cost and gave: kept pairs, drops by filter, notes; `replayed` when the store had it."""

    path: str
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    replayed: bool = False
    records: list[Record] = field(default_factory=list)
    candidates: int = 0


@dataclass(frozen=True)
class Estimate:
    leaves_to_generate: int
    leaves_replayed: int
    requests: int
    output_bytes: int


def estimate(leaves: Sequence[Leaf], plan: Plan, store: Store | None, model: str, mode: str) -> Estimate:
    """Requests and output size before a run: generation and judging of `target` pairs per missing leaf."""
    missing = [leaf for leaf in leaves if store is None or store.get(leaf_key(leaf, model, mode)) is None]
    generation, judging = plan.requests_per_round(plan.target)
    size = sum(
        plan.target
        * 2
        * max(1, sum(len(s.question) + len(s.answer) for s in leaf.seed_examples))
        // max(1, len(leaf.seed_examples))
        for leaf in missing
    )
    return Estimate(len(missing), len(leaves) - len(missing), len(missing) * (generation + judging), size)


Progress = Callable[[LeafReport, int, int], None]


def plain_progress(report: LeafReport, done: int, total: int) -> None:
    state = "replayed from the store" if report.replayed else f"{report.kept} pairs kept"
    print(f"generate: {done}/{total} {report.path}: {state}", file=sys.stderr, flush=True)


async def _one(
    leaf: Leaf, client: ModelClient, plan: Plan, store: Store | None, mode: str, cache_dir: Path
) -> LeafReport:
    key = leaf_key(leaf, client.endpoint.model, mode)
    if store is not None and (records := store.get(key)) is not None:
        return LeafReport(leaf.path, kept=len(records), replayed=True, records=records)
    report = LeafReport(leaf.path)
    documents: list[str] = []
    document = leaf.data.get("document")
    if leaf.kind is LeafKind.KNOWLEDGE and isinstance(document, dict):
        try:
            fetched = await asyncio.to_thread(
                fetch_documents, str(document.get("repo")), str(document.get("commit")),
                [str(p) for p in document.get("patterns") or []], cache_dir,
            )  # fmt: skip
            documents = [d.text for d in fetched]
        except DocumentError as error:
            report.notes.append(f"documents: {error}; generating from the seed contexts only")
    outcome = await generate_leaf(leaf, client, plan, documents)
    report.kept, report.dropped, report.candidates = len(outcome.kept), outcome.dropped, outcome.candidates
    report.notes += outcome.notes
    report.records = outcome_records(outcome, client.endpoint.model)
    # Only a complete result is stored: a leaf cut short by endpoint faults is asked again next run
    # (its answered requests come back from the reply cache, so the rerun resumes, not restarts).
    if store is not None and report.kept >= plan.target:
        store.put(key, report.records)
    return report


async def generate(
    leaves: Sequence[Leaf],
    client: ModelClient,
    plan: Plan,
    *,
    store: Store | None,
    mode: str,
    cache_dir: Path,
    progress: Progress = plain_progress,
) -> list[LeafReport]:
    """Generate for every leaf concurrently (the client caps requests); reports in the leaves' order."""
    done = 0

    async def tracked(leaf: Leaf) -> LeafReport:
        nonlocal done
        report = await _one(leaf, client, plan, store, mode, cache_dir)
        done += 1
        progress(report, done, len(leaves))
        return report

    return list(await asyncio.gather(*(tracked(leaf) for leaf in leaves)))


def leaf_file(out: Path, path: str) -> Path:
    return out / "leaves" / (path.removesuffix("/qna.yaml").replace("/", "__") + ".jsonl")


def write_outputs(out: Path, reports: Sequence[LeafReport], earlier: Sequence[Record], full: bool) -> dict[str, int]:
    """Per-leaf JSONL files and, for a full run, the two phase sets. Returns record counts by file."""
    counts = {str(leaf_file(out, r.path).relative_to(out)): write_jsonl(leaf_file(out, r.path), r.records)
              for r in reports}  # fmt: skip
    if full:
        records = [record for report in reports for record in report.records]
        sets = build_phase_sets(records, earlier)
        counts["phase1.jsonl"] = write_jsonl(out / "phase1.jsonl", sets.phase1)
        counts["phase2.jsonl"] = write_jsonl(out / "phase2.jsonl", sets.phase2)
    return counts


def summary(reports: Sequence[LeafReport], client: ModelClient, seconds: float, candidates: int) -> str:
    dropped: Counter[str] = Counter()
    for report in reports:
        dropped += report.dropped
    stats = client.stats
    kept = sum(r.kept for r in reports)
    per_candidate = stats.requests / candidates if candidates else 0.0
    lines = [
        f"{len(reports)} leaves: {kept} pairs kept, {sum(dropped.values())} dropped"
        + (f" ({', '.join(f'{n} {why}' for why, n in dropped.most_common())})" if dropped else ""),
        f"{stats.requests} requests ({stats.cached} from cache, {stats.retries} retries, {stats.failures} failed), "
        f"{stats.parse_failures} unparseable replies, {per_candidate:.2f} requests per candidate pair, "
        f"{seconds:.1f} s",
    ]
    lines += [f"note: {r.path}: {note}" for r in reports for note in r.notes]
    return "\n".join(lines)


def candidates_made(reports: Sequence[LeafReport]) -> int:
    return sum(r.candidates for r in reports)


def sample_plan(count: int) -> Plan:
    """A review's few pairs: one generation request asking for all of them with room to drop, one judging."""
    batch = max(1, math.ceil(count * Plan(target=count).overshoot))
    return Plan(target=count, per_call=batch, judge_batch=batch)
