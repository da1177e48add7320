"""Packing: >= 98% of the token budget is real tokens, every sample once, and no sample sees another."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="needs the `train` extra")
pytest.importorskip("transformers", reason="needs the `train` extra")

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.fakes.phase_sets import knowledge_records, skill_records
from tests.fakes.tiny_model import build_tiny_model
from trainer.data import IGNORE_INDEX, Sample, build_samples, parse_records
from trainer.packing import Pack, collate_packs, pack_samples, packing_efficiency

MAX_LENGTH = 256
PACK_TOKENS = 512  # as in trainer/configs/tiny_cpu.yaml


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def samples(model_dir: Path) -> list[Sample]:
    """A realistic phase-2 mix: skills plus replayed knowledge, lengths from a few tokens to the limit."""
    raw = skill_records(600, max_words=MAX_LENGTH) + knowledge_records(200, max_words=MAX_LENGTH)
    records = parse_records([json.dumps(record) for record in raw], "mix.jsonl")
    return build_samples(records, AutoTokenizer.from_pretrained(model_dir), MAX_LENGTH).samples


def _segments(pack: Pack) -> list[tuple[int, int]]:
    starts = [i for i, position in enumerate(pack.position_ids) if position == 0]
    return list(zip(starts, [*starts[1:], len(pack.input_ids)], strict=True))


def test_packing_fills_at_least_98_percent_of_the_token_budget(samples: list[Sample]) -> None:
    lengths = [len(sample.input_ids) for sample in samples]
    assert min(lengths) < 40 and max(lengths) > 200, "the mix must span short and long samples"
    packs = pack_samples(samples, PACK_TOKENS)
    assert all(len(pack.input_ids) <= PACK_TOKENS for pack in packs)
    assert packing_efficiency(packs, PACK_TOKENS) >= 0.98


def test_every_sample_is_packed_exactly_once_and_intact(samples: list[Sample]) -> None:
    packs = pack_samples(samples, PACK_TOKENS)
    packed = Counter(pack.input_ids[start:end] for pack in packs for start, end in _segments(pack))
    assert packed == Counter(sample.input_ids for sample in samples)
    assert sum(pack.sample_count for pack in packs) == len(samples)


def test_positions_restart_and_no_label_reaches_across_samples(samples: list[Sample]) -> None:
    for pack in pack_samples(samples, PACK_TOKENS):
        segments = _segments(pack)
        assert len(segments) == pack.sample_count
        for start, end in segments:
            assert list(pack.position_ids[start:end]) == list(range(end - start))
            # labels shift inside the loss: the token before `start` would be trained to predict it
            assert pack.labels[start] == IGNORE_INDEX


def test_a_packed_sample_gets_the_same_logits_as_alone(model_dir: Path, samples: list[Sample]) -> None:
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    trio = [samples[0], samples[7], samples[3]]
    pack = pack_samples(trio, PACK_TOKENS)
    assert len(pack) == 1, "the three samples share one row"
    batch = collate_packs(pack)
    assert set(batch) == {"input_ids", "labels", "position_ids"}, "no padding, no attention mask"
    # use_cache=False as under the Trainer: transformers only reads packed rows from position_ids
    # when no KV cache is in play, and a forward pass outside training creates one by default.
    with torch.no_grad():
        packed = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        running = model(input_ids=batch["input_ids"], use_cache=False).logits[0]  # samples see each other
        for start, end in _segments(pack[0]):
            alone = model(input_ids=batch["input_ids"][:, start:end]).logits[0]
            torch.testing.assert_close(packed[start:end], alone, atol=1e-5, rtol=1e-4)
            if start > 0:
                assert not torch.allclose(running[start:end], alone, atol=1e-3), "the check must be able to fail"


def test_a_sample_longer_than_the_budget_is_a_programming_error(samples: list[Sample]) -> None:
    with pytest.raises(ValueError, match="exceed the pack capacity"):
        pack_samples(samples, 16)
