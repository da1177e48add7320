"""`taxbot generate`: sample pairs for a pull request, or full sets for a release, with a summary that accounts
for every candidate pair."""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import git

from bot.generation.datasets import Record, Store, build_phase_sets, leaf_key, outcome_records, write_jsonl
from bot.generation.documents import DocumentError, fetch_documents
from bot.generation.pipelines import LeafOutcome, Plan, generate_leaf, leaf_requests, sample_plan
from bot.generation.teacher import CallStats, Endpoint, ModelClient
from bot.taxonomy.tree import Leaf, LeafKind

__all__ = ["sample_plan"]  # re-exported: the review's sample part takes its plan from here


@dataclass
class LeafReport:
    """What one leaf cost and gave: kept pairs, drops by reason, notes; `replayed` when the store had it.

    candidates == kept + sum(dropped.values()); failed requests wrote no candidate.
    """

    path: str
    kind: str = ""
    target: int = 0
    kept: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    replayed: bool = False
    records: list[Record] = field(default_factory=list)
    candidates: int = 0
    failed_requests: int = 0
    cut_replies: int = 0

    @property
    def short(self) -> bool:
        return self.kept < self.target

    def to_json(self) -> dict[str, object]:
        return {"leaf": self.path, "kind": self.kind, "target": self.target, "kept": self.kept,
                "candidates": self.candidates, "dropped": dict(self.dropped.most_common()),
                "failed_requests": self.failed_requests, "cut_replies": self.cut_replies,
                "replayed": self.replayed, "short": self.short, "notes": self.notes}  # fmt: skip


@dataclass(frozen=True)
class Estimate:
    leaves_to_generate: int
    leaves_replayed: int
    requests: int
    output_bytes: int
    requests_apart: int = 0  # where the teacher gives one choice per request (llama.cpp), not `n`


def estimate(
    leaves: Sequence[Leaf], plan: Plan, store: Store | None, model: str, mode: str, endpoint: Endpoint | None = None
) -> Estimate:
    """Requests and output size before a run: one probe, then one round of generation and judging of
    `target` pairs per missing leaf (the round asks for the overshoot, so it is most of the run)."""
    missing = [leaf for leaf in leaves if store is None or store.get(leaf_key(leaf, model, mode)) is None]
    tokens = ModelClient(Endpoint("-", model)).tokens  # the default ratio: the probe has not measured it yet
    size = sum(
        plan.target
        * 2
        * max(1, sum(len(s.question) + len(s.answer) for s in leaf.seed_examples))
        // max(1, len(leaf.seed_examples))
        for leaf in missing
    )
    endpoint = endpoint or Endpoint("-", model)
    probe = 1 if missing else 0
    requests = sum(leaf_requests(leaf, plan, endpoint, tokens) for leaf in missing) + probe
    apart = sum(leaf_requests(leaf, plan, endpoint, tokens, samples=False) for leaf in missing) + probe
    return Estimate(len(missing), len(leaves) - len(missing), requests, size, apart)


Progress = Callable[[LeafReport, int, int], None]


def plain_progress(report: LeafReport, done: int, total: int) -> None:
    state = "replayed from the store" if report.replayed else f"{report.kept} pairs kept"
    print(f"generate: {done}/{total} {report.path}: {state}", file=sys.stderr, flush=True)


def _documents(leaf: Leaf, cache_dir: Path) -> tuple[list[str], str | None]:
    """The texts of a knowledge leaf's documents, or a note on why there are none."""
    document = leaf.data.get("document")
    if leaf.kind is not LeafKind.KNOWLEDGE or not isinstance(document, dict):
        return [], None
    try:
        fetched = fetch_documents(str(document.get("repo")), str(document.get("commit")),
                                  [str(p) for p in document.get("patterns") or []], cache_dir)  # fmt: skip
    except (DocumentError, git.GitError, OSError) as error:
        return [], f"documents: {error}; generating from the seed contexts only"
    texts = [d.text for d in fetched if d.text.strip()]
    return texts, None if texts else "documents: every matched file is empty; generating from the seed contexts"


async def _one(
    leaf: Leaf, client: ModelClient, plan: Plan, store: Store | None, mode: str, cache_dir: Path
) -> LeafReport:
    key = leaf_key(leaf, client.endpoint.model, mode)
    if store is not None and (records := store.get(key)) is not None:
        return LeafReport(leaf.path, str(leaf.kind), plan.target, kept=len(records), replayed=True, records=records)
    documents: list[str] = []
    problem = None
    if leaf.kind is LeafKind.KNOWLEDGE:
        # A thread for git and PDFs only: a hand-off per leaf waits on the busy loop's GIL, and holds back
        # the first requests of a run.
        documents, problem = await asyncio.to_thread(_documents, leaf, cache_dir)
    outcome = await generate_leaf(leaf, client, plan, documents)
    report = _report(outcome)
    if problem:
        report.notes.insert(0, problem)
    report.records = outcome_records(outcome, client.endpoint.model)
    # Only a complete result is stored: a leaf cut short by endpoint faults is asked again next run
    # (its answered requests come back from the reply cache, so the rerun resumes, not restarts).
    if store is not None and not report.short:
        store.put(key, report.records)
    return report


def _report(outcome: LeafOutcome) -> LeafReport:
    return LeafReport(
        outcome.path, str(outcome.kind), outcome.target, len(outcome.kept), outcome.dropped, list(outcome.notes),
        candidates=outcome.candidates, failed_requests=outcome.failed_requests, cut_replies=outcome.cut_replies,
    )  # fmt: skip


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
    """Generate for every leaf concurrently (the client caps requests); reports in the leaves' order.

    The teacher is probed first when anything is to be asked: one that is down or refuses raises
    EndpointError at once, with its URL and its own reason, before any leaf is started. The client's
    connections are closed at the end, in this loop; its counts stay readable.
    """
    done = 0

    async def tracked(leaf: Leaf) -> LeafReport:
        nonlocal done
        report = await _one(leaf, client, plan, store, mode, cache_dir)
        done += 1
        progress(report, done, len(leaves))
        return report

    async with client:
        if store is None or any(store.get(leaf_key(leaf, client.endpoint.model, mode)) is None for leaf in leaves):
            await client.probe()
        started = []
        for leaf in leaves:
            started.append(asyncio.ensure_future(tracked(leaf)))
            # One turn of the loop per leaf started: the first leaves' requests go out while the next leaves
            # are prepared, instead of the teacher waiting for every leaf's prompts to be built.
            await asyncio.sleep(0)
        return list(await asyncio.gather(*started))


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


def _drops(dropped: Counter[str]) -> str:
    return ", ".join(f"{n} {why}" for why, n in dropped.most_common())


def summary(reports: Sequence[LeafReport], client: ModelClient, seconds: float, candidates: int) -> str:
    """The run in a few lines: totals, every candidate accounted for per leaf, short leaves named, notes."""
    dropped: Counter[str] = Counter()
    for report in reports:
        dropped += report.dropped
    stats = client.stats
    kept = sum(r.kept for r in reports)
    failed = sum(r.failed_requests for r in reports)
    per_candidate = stats.requests / candidates if candidates else 0.0
    lines = [
        f"{len(reports)} leaves: {kept} pairs kept of {candidates} candidates, {sum(dropped.values())} dropped"
        + (f" ({_drops(dropped)})" if dropped else "")
        + f", {failed} failed generation requests",
        f"{stats.requests} requests ({stats.cached} from cache, {stats.retries} retries, {stats.failures} failed), "
        f"{stats.parse_failures} unparseable replies, {stats.cut_replies} cut at max_tokens, "
        f"{per_candidate:.2f} requests per candidate pair, "
        f"{stats.prompt_tokens} prompt + {stats.completion_tokens} completion tokens, "
        f"structured output: {client.output_mode}, {seconds:.1f} s",
    ]
    for r in reports:
        if r.replayed:
            lines.append(f"leaf {r.path}: {r.kept} pairs replayed from the store")
            continue
        lines.append(
            f"leaf {r.path}: {r.kept}/{r.target} kept of {r.candidates} candidates"
            + (f" ({_drops(r.dropped)} dropped)" if r.dropped else "")
            + (f", {r.failed_requests} failed requests" if r.failed_requests else "")
        )
    short = [r for r in reports if r.short]
    if short:
        lines.append(f"short of the target: {', '.join(f'{r.path} ({r.kept}/{r.target})' for r in short)}")
    # A note every leaf shares (the teacher went down mid-run) is said once, with the leaves it hit.
    hit: dict[str, list[str]] = {}
    for r in reports:
        for note in r.notes:
            hit.setdefault(note, []).append(r.path)
    for note, paths in hit.items():
        where = (
            paths[0]
            if len(paths) == 1
            else f"{len(paths)} leaves ({', '.join(paths[:3])}{', ...' if len(paths) > 3 else ''})"
        )
        lines.append(f"note: {where}: {note}")
    lines += [f"note: {dropped}" for dropped in client.dropped]
    return "\n".join(lines)


def summary_json(reports: Sequence[LeafReport], stats: CallStats, seconds: float) -> dict[str, object]:
    candidates = candidates_made(reports)
    return {
        "leaves": [r.to_json() for r in reports],
        "kept": sum(r.kept for r in reports),
        "candidates": candidates,
        "short": [r.path for r in reports if r.short],
        "requests": stats.requests, "cached": stats.cached, "retries": stats.retries, "failures": stats.failures,
        "unparseable_replies": stats.parse_failures, "cut_replies": stats.cut_replies,
        "prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.completion_tokens,
        "requests_per_candidate": stats.requests / candidates if candidates else None, "seconds": round(seconds, 2),
    }  # fmt: skip


def candidates_made(reports: Sequence[LeafReport]) -> int:
    return sum(r.candidates for r in reports)
