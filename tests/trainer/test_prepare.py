"""Phase data prepared once into Arrow: the same packs as in memory, memory-mapped, cached, knowledge share kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from tests.fakes.phase_sets import knowledge_records, skill_records, write_jsonl
from tests.fakes.tiny_model import build_tiny_model
from trainer.config import TrainConfig
from trainer.data import build_samples, read_records
from trainer.packing import pack_samples
from trainer.plan import PhasePlan
from trainer.prepare import SUMMARY_FILE, phase_records, prepare_phase_data
from trainer.ranks import Ranks

ONE_RANK = Ranks(world_size=1, rank=0)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return AutoTokenizer.from_pretrained(build_tiny_model(tmp_path_factory.mktemp("tiny") / "model"))


def _plan(sets: list[Path], replay: Path | None = None, **options: object) -> PhasePlan:
    fields = {"replay_fraction": 1.0, "knowledge_share": None, **options}
    return PhasePlan("phase2", tuple(map(str, sets)), str(replay) if replay else None, start_model="m",
                     settings=TrainConfig().phase2, follows=None, **fields)  # type: ignore[arg-type]  # fmt: skip


def test_prepared_packs_are_the_in_memory_packs_token_for_token(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    skills = write_jsonl(tmp_path / "s.jsonl", skill_records(300, max_words=200))
    plan = _plan([skills])
    folder = tmp_path / "data"
    kwargs = {"max_length": 128, "pack_tokens": 512, "seed": 0, "folder": folder, "ranks": ONE_RANK}
    prepared = prepare_phase_data(plan, tokenizer, workers=2, **kwargs)  # two rendering processes

    expected = build_samples(read_records(skills), tokenizer, 128)
    packs = pack_samples(expected.samples, 512)
    assert len(prepared.packs) == len(packs) == prepared.summary["packs"]
    for row, pack in zip(prepared.packs, packs, strict=True):
        assert (row["input_ids"], row["labels"], row["position_ids"]) == (
            list(pack.input_ids), list(pack.labels), list(pack.position_ids)
        )  # fmt: skip
    assert prepared.summary["samples"] == len(expected.samples)
    assert prepared.summary["dropped_too_long"] == len(expected.too_long) > 0
    assert all(Path(f["filename"]).is_relative_to(folder) for f in prepared.packs.cache_files), "memory-mapped"

    written = (folder / SUMMARY_FILE).stat().st_mtime_ns
    again = prepare_phase_data(plan, tokenizer, workers=2, **kwargs)
    assert (folder / SUMMARY_FILE).stat().st_mtime_ns == written, "prepared once, then read from the cache"
    assert again.summary == prepared.summary


def test_phase2_is_topped_up_to_the_configured_knowledge_share(tmp_path: Path) -> None:
    knowledge = write_jsonl(tmp_path / "k.jsonl", knowledge_records(200, max_words=50))
    skills = write_jsonl(tmp_path / "s.jsonl", skill_records(100, max_words=50))
    records, replayed = phase_records(_plan([skills], knowledge, knowledge_share=0.1), seed=0)
    assert replayed == 12 and sum(r.unmask for r in records) / len(records) == pytest.approx(0.107, abs=1e-3)

    # A skills set that already holds its share of knowledge (as taxbot's generation writes it) gets none.
    mixed_lines = [json.dumps(r) for r in skill_records(97, max_words=50) + knowledge_records(3, max_words=50)]
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("\n".join(mixed_lines) + "\n", encoding="utf-8")
    records, replayed = phase_records(_plan([mixed], knowledge, knowledge_share=0.03), seed=0)
    assert replayed == 0 and len(records) == 100

    _, replayed = phase_records(_plan([skills], knowledge, replay_fraction=0.25), seed=0)
    assert replayed == 50, "without knowledge_share, replay_fraction of phase 1 is replayed"
