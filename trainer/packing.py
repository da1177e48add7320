"""Padding-free packing: samples laid end to end in token-budget rows, with the fill measured."""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from trainer.data import IGNORE_INDEX, Sample


@dataclass(frozen=True)
class Pack:
    """One row the model sees: several samples end to end, positions restarting at 0 for each.

    Restarting positions is what lets transformers keep samples apart: with no attention mask
    and no KV cache (the Trainer turns use_cache off), sdpa and eager attention build a
    block-diagonal causal mask from the position resets, and flash-attention derives per-sample
    sequence lengths from them.
    """

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]
    position_ids: tuple[int, ...]
    sample_count: int


def pack_samples(samples: Sequence[Sample], capacity: int) -> list[Pack]:
    """Place samples into rows of at most `capacity` tokens by best-fit decreasing; deterministic."""
    too_long = [s.record_id for s in samples if len(s.input_ids) > capacity]
    if too_long:
        raise ValueError(f"{len(too_long)} sample(s) exceed the pack capacity {capacity}: {too_long[:5]}")
    bins = plan_bins([len(sample.input_ids) for sample in samples], capacity)
    return [_join([samples[index] for index in members]) for members in bins]


def plan_bins(lengths: Sequence[int], capacity: int) -> list[list[int]]:
    """Indices of the samples each row holds, by best-fit decreasing on their lengths alone."""
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    bins: list[list[int]] = []
    room: list[tuple[int, int]] = []  # (tokens still free, bin index), kept sorted
    for index in order:
        size = lengths[index]
        at = bisect.bisect_left(room, (size, -1))
        if at < len(room):
            free, chosen = room.pop(at)
        else:
            free, chosen = capacity, len(bins)
            bins.append([])
        bins[chosen].append(index)
        if free - size > 0:
            bisect.insort(room, (free - size, chosen))
    return bins


def _join(members: list[Sample]) -> Pack:
    input_ids, labels, position_ids = join_rows([(m.input_ids, m.labels) for m in members])
    return Pack(tuple(input_ids), tuple(labels), tuple(position_ids), len(members))


def join_rows(members: Sequence[tuple[Sequence[int], Sequence[int]]]) -> tuple[list[int], list[int], list[int]]:
    """Input ids, labels and restarting positions of samples (ids, labels) laid end to end."""
    input_ids: list[int] = []
    labels: list[int] = []
    position_ids: list[int] = []
    for ids, sample_labels in members:
        input_ids.extend(ids)
        # The first token of a sample is never a target: predicting it from the previous sample's
        # last token would teach the model to continue across unrelated samples.
        labels.append(IGNORE_INDEX)
        labels.extend(sample_labels[1:])
        position_ids.extend(range(len(ids)))
    return input_ids, labels, position_ids


def packing_efficiency(packs: Sequence[Pack], capacity: int) -> float:
    """Share of the token budget (rows x capacity) that carries real sample tokens."""
    if not packs:
        return 0.0
    return sum(len(pack.input_ids) for pack in packs) / (len(packs) * capacity)


def collate_packs(packs: Sequence[Pack | Mapping[str, Any]]) -> dict[str, torch.Tensor]:
    """A micro-batch as one flattened row of shape (1, tokens); no padding and no attention mask.

    Packs come as Pack values or as rows of the prepared Arrow dataset (mappings with the same fields).
    """
    rows = [pack if isinstance(pack, Mapping) else vars(pack) for pack in packs]
    return {
        name: torch.tensor([[t for row in rows for t in row[name]]], dtype=torch.long)
        for name in ("input_ids", "labels", "position_ids")
    }
