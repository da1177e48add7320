"""Generated data as training records, kept in a content-addressed store and mixed into the two phase sets."""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.generation.pipelines import PIPELINE_VERSION, Kept, LeafOutcome
from bot.taxonomy.tree import Leaf, LeafKind

Record = dict[str, object]

MIN_KNOWLEDGE_SHARE = 0.03
"""Phase 2 replays phase 1 so that at least this share of it is knowledge: skills tuning must not erase it."""


def leaf_key(leaf: Leaf, teacher_model: str, mode: str) -> str:
    """The store key of a leaf's data: its content (not its formatting), the pipeline, the teacher, the mode."""
    content = json.dumps(leaf.data, sort_keys=True, default=str, ensure_ascii=False)
    blob = json.dumps([content, PIPELINE_VERSION, teacher_model, mode])
    return hashlib.sha256(blob.encode()).hexdigest()


def to_record(leaf_path: str, kind: LeafKind, kept: Kept, teacher_model: str) -> Record:
    """One training sample in the format the InstructLab training stack reads."""
    candidate = kept.candidate
    prompt = candidate.question
    # Grounded skills and knowledge both train on the text with the question (LAB's phase 1 shows the chunk).
    if kind in (LeafKind.GROUNDED_SKILL, LeafKind.KNOWLEDGE) and candidate.context:
        prompt = f"{candidate.context}\n\n{candidate.question}"
    messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": candidate.answer}]
    digest = hashlib.sha256(json.dumps([leaf_path, messages]).encode()).hexdigest()[:16]
    return {
        "id": f"{leaf_path}#{digest}",
        "messages": messages,
        "metadata": {
            "leaf": leaf_path,
            "kind": str(kind),
            "score": kept.score,
            "teacher": teacher_model,
            "pipeline": PIPELINE_VERSION,
            **({"context": candidate.context} if candidate.context else {}),
        },
        "unmask": kind is LeafKind.KNOWLEDGE,
    }


def outcome_records(outcome: LeafOutcome, teacher_model: str) -> list[Record]:
    return [to_record(outcome.path, outcome.kind, kept, teacher_model) for kept in outcome.kept]


def write_jsonl(path: Path, records: Iterable[Record]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(f".{os.getpid()}.tmp")
    count = 0
    with scratch.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    scratch.replace(path)
    return count


def read_jsonl(path: Path) -> Iterator[Record]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except ValueError as error:
                    raise ValueError(f"{path}:{number}: not a JSON record ({error})") from error


@dataclass(frozen=True)
class Store:
    """Generated records by leaf key: a release regenerates only the leaves whose key it lacks."""

    directory: Path

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.jsonl"

    def get(self, key: str) -> list[Record] | None:
        path = self.path(key)
        return list(read_jsonl(path)) if path.exists() else None

    def put(self, key: str, records: list[Record]) -> None:
        write_jsonl(self.path(key), records)


@dataclass(frozen=True)
class PhaseSets:
    phase1: list[Record]
    phase2: list[Record]
    knowledge_replayed: int
    earlier_replayed: int


def build_phase_sets(records: list[Record], earlier: Sequence[Record] = (), seed: int = 0) -> PhaseSets:
    """Phase 1: knowledge. Phase 2: skills, replay of earlier data, and enough of phase 1 to keep it."""
    rng = random.Random(seed)
    phase1 = [r for r in records if r.get("unmask")]
    skills = [r for r in records if not r.get("unmask")]
    new_ids = {r["id"] for r in records}
    replay_earlier = [r for r in earlier if r["id"] not in new_ids and not r.get("unmask")]
    base = skills + replay_earlier
    # k / (base + k) >= share  <=>  k >= share * base / (1 - share)
    wanted = math.ceil(MIN_KNOWLEDGE_SHARE * len(base) / (1 - MIN_KNOWLEDGE_SHARE)) if base else 0
    pool = phase1 + [r for r in earlier if r.get("unmask") and r["id"] not in new_ids]
    if not pool:
        knowledge: list[Record] = []
    elif wanted <= len(pool):
        knowledge = rng.sample(pool, wanted)
    else:  # less knowledge than the share needs: repeat some rather than fall below it
        knowledge = [rng.choice(pool) for _ in range(wanted)]
    phase2 = base + knowledge
    rng.shuffle(phase2)
    return PhaseSets(phase1, phase2, len(knowledge), len(replay_earlier))
