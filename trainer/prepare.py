"""A phase's data prepared once, by the main process, into a memory-mapped Arrow dataset of packed rows.

Records are read and checked (every bad line named), rendered with the chat template in several processes
(Hugging Face `datasets`), packed by length, and saved under the phase folder keyed by the phase's
fingerprint. Every rank then maps the same files: memory per rank does not grow with the data set, and a
resumed or second rank never renders again.
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datasets import Dataset, load_from_disk

from trainer.data import Message, Record, read_records, render_sample, select_replay
from trainer.errors import DataError, TrainerError
from trainer.packing import join_rows, plan_bins
from trainer.plan import PhasePlan
from trainer.ranks import Ranks

SUMMARY_FILE = "summary.json"
_RECORDS_PER_WORKER = 2000  # below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class PreparedData:
    """A phase's packed rows (memory-mapped) and the counts its metadata records."""

    packs: Dataset
    summary: dict[str, Any]
    folder: Path


def data_folder(phase_dir: Path, fingerprint: str) -> Path:
    return phase_dir / f"data-{fingerprint}"


def prepare_phase_data(
    plan: PhasePlan,
    tokenizer: Any,
    *,
    max_length: int,
    pack_tokens: int,
    seed: int,
    workers: int,
    folder: Path,
    ranks: Ranks,
) -> PreparedData:
    """Build the phase's dataset on rank 0 unless cached; every rank then maps the saved files."""
    if ranks.is_main and not (folder / SUMMARY_FILE).is_file():
        _build(plan, tokenizer, max_length, pack_tokens, seed, workers, folder)
    ranks.wait_for_everyone()
    summary = json.loads((folder / SUMMARY_FILE).read_text(encoding="utf-8"))
    return PreparedData(load_from_disk(str(folder / "packs")), summary, folder)


def phase_records(plan: PhasePlan, seed: int) -> tuple[list[Record], int]:
    """The phase's own records plus the replayed share of an earlier phase; returns them and the replay count."""
    # A stacked phase reads knowledge and skills together: a taxonomy of skills only has an empty knowledge set.
    several = len(plan.sets) > 1
    records = [record for path in plan.sets for record in read_records(Path(path), allow_empty=several)]
    if not records:
        raise DataError(f"{' and '.join(plan.sets)} have no records; a phase needs at least one JSON line")
    if plan.replay_set is None:
        return records, 0
    earlier = read_records(Path(plan.replay_set))
    if plan.knowledge_share is None:
        replay = select_replay(earlier, plan.replay_fraction, seed)
    else:
        replay = _top_up(earlier, records, plan.knowledge_share, seed)
    return [*records, *replay], len(replay)


def _top_up(earlier: Sequence[Record], records: Sequence[Record], share: float, seed: int) -> list[Record]:
    """Enough earlier knowledge records that knowledge makes up `share` of the phase; none if it already does.

    Knowledge records are the `unmask: true` ones (the turn carrying the document is learnt too).
    """
    knowledge = [record for record in earlier if record.unmask]
    present = sum(record.unmask for record in records)
    wanted = math.ceil((share * len(records) - present) / (1 - share)) if share < 1 else len(knowledge)
    return random.Random(seed).sample(knowledge, max(0, min(wanted, len(knowledge))))


def _build(
    plan: PhasePlan, tokenizer: Any, max_length: int, pack_tokens: int, seed: int, workers: int, folder: Path
) -> None:
    records, replayed = phase_records(plan, seed)
    processes = workers or max(1, min(os.cpu_count() or 1, len(records) // _RECORDS_PER_WORKER))
    rows = Dataset.from_list([_as_row(record) for record in records])
    samples = rows.map(
        _render_batch,
        batched=True,
        fn_kwargs={"tokenizer": tokenizer},
        remove_columns=rows.column_names,
        num_proc=processes if processes > 1 else None,
        desc=f"{plan.name}: rendering",
    )
    lengths = samples["length"]
    kept = [index for index, length in enumerate(lengths) if length <= max_length]
    too_long = len(lengths) - len(kept)
    if not kept:
        raise TrainerError(
            f"{plan.name}: all {too_long} samples are longer than data.max_length={max_length} tokens; "
            "raise data.max_length (and data.pack_tokens)"
        )
    scratch = folder.with_name(folder.name + ".partial")
    shutil.rmtree(scratch, ignore_errors=True)
    samples.select(kept).save_to_disk(str(scratch / "samples"))
    mapped = load_from_disk(str(scratch / "samples"))  # joined from disk, not from this process's memory
    bins = plan_bins([lengths[index] for index in kept], pack_tokens)
    packs = Dataset.from_dict({"members": bins}).map(
        _join_batch,
        batched=True,
        fn_kwargs={"samples": mapped},
        remove_columns=["members"],
        num_proc=processes if processes > 1 else None,
        desc=f"{plan.name}: packing",
    )
    packs.save_to_disk(str(scratch / "packs"))
    tokens = sum(lengths[index] for index in kept)
    summary = {
        "sets": list(plan.sets),
        "replayed_records": replayed,
        "knowledge_share": round(sum(r.unmask for r in records) / len(records), 4),
        "samples": len(kept),
        "dropped_too_long": too_long,
        "max_length": max_length,
        "tokens": tokens,
        "packs": len(bins),
        "pack_tokens": pack_tokens,
        "packing_efficiency": round(tokens / (len(bins) * pack_tokens), 4),
    }
    (scratch / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(scratch / "samples")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(scratch, folder)


def _as_row(record: Record) -> dict[str, Any]:
    return {
        "id": record.id,
        "roles": [message.role for message in record.messages],
        "contents": [message.content for message in record.messages],
        "unmask": record.unmask,
        "source": record.source,
    }


def _render_batch(batch: dict[str, list[Any]], tokenizer: Any) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"input_ids": [], "labels": [], "length": []}
    for record_id, roles, contents, unmask, source in zip(
        batch["id"], batch["roles"], batch["contents"], batch["unmask"], batch["source"], strict=True
    ):
        messages = tuple(Message(role, content) for role, content in zip(roles, contents, strict=True))
        sample = render_sample(Record(record_id, messages, unmask, {}, source), tokenizer)
        out["input_ids"].append(list(sample.input_ids))
        out["labels"].append(list(sample.labels))
        out["length"].append(len(sample.input_ids))
    return out


def _join_batch(batch: dict[str, list[Any]], samples: Dataset) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {"input_ids": [], "labels": [], "position_ids": [], "sample_count": []}
    for members in batch["members"]:
        rows = samples[members]  # one read of the row group, not one per sample
        input_ids, labels, position_ids = join_rows(list(zip(rows["input_ids"], rows["labels"], strict=True)))
        out["input_ids"].append(input_ids)
        out["labels"].append(labels)
        out["position_ids"].append(position_ids)
        out["sample_count"].append(len(members))
    return out
