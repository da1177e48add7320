"""Packed rows vs the transformers Trainer with plain padding: token efficiency and tokens/s, one run.

Run by hand from the repository root (CPU is fine; takes a minute or two on 2 cores):

    python -m bench.bench_packing [--samples 320] [--hidden 256] [--layers 4] [--batch 8]

Both paths train the same freshly initialised model on the same rendered samples for one epoch,
with the same optimiser settings, in this process. Tokens/s counts real (non-padding) tokens.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)
from transformers.utils import logging as transformers_logging

from tests.fakes.phase_sets import knowledge_records, skill_records
from tests.fakes.tiny_model import build_tiny_model
from trainer.data import Sample, build_samples, parse_records
from trainer.packing import collate_packs, pack_samples, packing_efficiency

MAX_LENGTH = 512


@dataclass
class TokenCount:
    """What the model was handed: real tokens and all positions (real plus padding)."""

    real: int = 0
    processed: int = 0

    def counting(self, collate: Callable[[list[Any]], dict[str, torch.Tensor]]) -> Callable[..., Any]:
        def wrapped(features: list[Any]) -> dict[str, torch.Tensor]:
            batch = collate(features)
            mask = batch.get("attention_mask")
            self.real += int(mask.sum()) if mask is not None else batch["input_ids"].numel()
            self.processed += batch["input_ids"].numel()
            return batch

        return wrapped


def _train(model_dir: Path, dataset: list[Any], collate: Callable[..., Any], batch: int, steps: int) -> float:
    """Seconds the Trainer spends on `steps` optimiser steps (one epoch when steps is -1)."""
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            per_device_train_batch_size=batch,
            num_train_epochs=1,
            max_steps=steps,
            learning_rate=1e-3,
            save_strategy="no",
            logging_strategy="no",
            use_cpu=True,
            dataloader_pin_memory=False,
            remove_unused_columns=False,
            disable_tqdm=True,
            report_to="none",
            seed=0,
        )
        trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collate)
        trainer.remove_callback(PrinterCallback)
        start = time.perf_counter()
        trainer.train()
        return time.perf_counter() - start


def _as_features(samples: list[Sample]) -> list[dict[str, list[int]]]:
    return [{"input_ids": list(s.input_ids), "labels": list(s.labels)} for s in samples]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=320)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8, help="samples per padded micro-batch")
    options = parser.parse_args()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()

    with tempfile.TemporaryDirectory() as scratch:
        model_dir = build_tiny_model(Path(scratch) / "model", hidden_size=options.hidden, layers=options.layers)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        raw = skill_records(options.samples * 3 // 4, max_words=MAX_LENGTH) + knowledge_records(
            options.samples // 4, max_words=MAX_LENGTH
        )
        records = parse_records([json.dumps(record) for record in raw], "bench")
        samples = build_samples(records, tokenizer, MAX_LENGTH).samples
        lengths = [len(sample.input_ids) for sample in samples]
        real_tokens = sum(lengths)
        # Same real tokens per micro-batch on average: a pack holds what `batch` padded samples carry.
        pack_tokens = max(MAX_LENGTH, round(options.batch * statistics.mean(lengths)))
        packs = pack_samples(samples, pack_tokens)

        padded_count, packed_count = TokenCount(), TokenCount()
        padding = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)
        features = _as_features(samples)
        _train(model_dir, features, padding, options.batch, steps=3)  # warm-up, not measured
        _train(model_dir, packs, collate_packs, 1, steps=3)
        padded_seconds = _train(model_dir, features, padded_count.counting(padding), options.batch, steps=-1)
        packed_seconds = _train(model_dir, packs, packed_count.counting(collate_packs), 1, steps=-1)

    print(f"model: Llama hidden {options.hidden}, {options.layers} layers, sdpa, float32, CPU")
    print(
        f"data: {len(samples)} samples, {real_tokens} tokens, lengths {min(lengths)}/"
        f"{int(statistics.median(lengths))}/{max(lengths)} (min/median/max), max_length {MAX_LENGTH}"
    )
    padded_rate, packed_rate = padded_count.real / padded_seconds, packed_count.real / packed_seconds
    print(
        f"baseline  Trainer + DataCollatorForSeq2Seq(padding='longest'), batch {options.batch}: "
        f"real/processed {padded_count.real / padded_count.processed:.3f}, "
        f"{padded_rate:,.0f} real tokens/s ({padded_seconds:.1f} s)"
    )
    print(
        f"packed    Trainer + taxbot packs of <= {pack_tokens} tokens: "
        f"real/processed {packed_count.real / packed_count.processed:.3f}, "
        f"budget fill {packing_efficiency(packs, pack_tokens):.3f}, "
        f"{packed_rate:,.0f} real tokens/s ({packed_seconds:.1f} s)"
    )
    print(f"speed-up  {packed_rate / padded_rate:.2f}x real tokens/s")
    if not padded_count.real == packed_count.real == real_tokens:
        raise SystemExit("the two paths did not see the same tokens once each; the comparison is void")


if __name__ == "__main__":
    main()
