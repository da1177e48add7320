"""Release training at a realistic size on a GPU: both phases, bf16, tokens/s, MFU, peak memory, packed vs padded.

Run by hand from the repository root; nothing is downloaded (the model is built from a config with random
weights, which throughput does not care about, and the tokenizer is built here):

    python -m bench.bench_train                      # one GPU, ~1B parameters, under 8 minutes on an H100/H200
    torchrun --standalone --nproc-per-node 8 -m bench.bench_train    # several GPUs: FSDP full shard (auto)
    python -m bench.bench_train --tiny               # a toy size on the CPU, to check the script itself

Both phases go through `run_training`, as `taxbot release` trains. MFU counts 6 x parameters FLOPs a token
(attention's own FLOPs left out, so it reads low for long samples) against the GPU's dense bf16 peak.
The packed-vs-padded comparison trains the same model on the same samples both ways (one process only):
the baseline is the transformers Trainer with DataCollatorForSeq2Seq(padding="longest") at the batch that
carries as many real tokens as one pack.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import disable_progress_bars
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    DataCollatorForSeq2Seq,
    LlamaConfig,
    LlamaForCausalLM,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)
from transformers.utils import logging as transformers_logging

from tests.fakes.phase_sets import knowledge_records, skill_records, write_jsonl
from tests.fakes.tiny_model import build_tokenizer
from trainer.config import load_config
from trainer.data import build_samples, parse_records
from trainer.packing import collate_packs, pack_samples
from trainer.plan import METADATA_FILE
from trainer.run import run_training

CONFIG = Path(__file__).resolve().parents[1] / "trainer" / "configs" / "phase2.yaml"
# Dense bf16 peak, FLOP/s, by a word in torch.cuda.get_device_name(); --peak-tflops for others.
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "A10G": 125e12, "L4": 121e12}


@dataclass(frozen=True)
class Size:
    """The model and data of a run."""

    hidden: int
    layers: int
    intermediate: int
    heads: int
    kv_heads: int
    vocab_words: int
    max_length: int
    pack_tokens: int
    knowledge: int  # phase-1 records
    skills: int  # phase-2 records
    max_words: int


FULL = Size(2048, 20, 5632, 32, 8, 32000, 4096, 16384, 1200, 2400, 3000)  # ~1.0B parameters
TINY = Size(64, 2, 128, 4, 2, 2000, 256, 1024, 60, 120, 200)


def _words(count: int) -> list[str]:
    """A made-up vocabulary of `count` words (the data uses its first few hundred, like real Zipf text)."""
    from tests.fakes.phase_sets import WORDS

    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    extra = (a + b + c for a in syllables for b in syllables for c in syllables)
    return [*WORDS, *(word for word, _ in zip(extra, range(count - len(WORDS)), strict=False))]


def build_model(folder: Path, size: Size) -> int:
    """Save a random Llama of `size` with a word-level tokenizer and chat template; returns its parameter count."""
    tokenizer = build_tokenizer(_words(size.vocab_words))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden,
        intermediate_size=size.intermediate,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        num_key_value_heads=size.kv_heads,
        max_position_embeddings=size.max_length,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def _peak_flops(override: float | None) -> float | None:
    if override:
        return override * 1e12
    if not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name()
    return next((flops for key, flops in PEAK_BF16.items() if key in name), None)


def train_phases(
    model_dir: Path, knowledge: Path, skills: Path, out: Path, size: Size, steps: int, gpu: bool
) -> dict[str, dict[str, Any]]:
    """Both phases through run_training, one call each so each phase's peak memory is its own."""
    overrides = [
        f"model.name_or_path={model_dir}", f"data.phase1={knowledge}", f"data.phase2={skills}",
        f"run.output_dir={out}", "run.taxonomy_commit=bench", "run.save_steps=100000",
        f"data.max_length={size.max_length}", f"data.pack_tokens={size.pack_tokens}",
        f"phase1.max_steps={steps}", f"phase2.max_steps={steps}",
        f"model.precision={'bf16-mixed' if gpu else 'float32'}", f"run.use_cpu={str(not gpu).lower()}",
    ]  # fmt: skip
    results = {}
    for phase, stop_after in (("phase1", "phase1"), ("phase2", "phase2")):
        if gpu:
            torch.cuda.reset_peak_memory_stats()
        outcome = run_training(load_config(CONFIG, [*overrides, f"run.stop_after={stop_after}"]), interactive=False)
        metadata = json.loads((outcome.run_dir / phase / "final" / METADATA_FILE).read_text(encoding="utf-8"))
        results[phase] = {
            "tokens": metadata["tokens"],
            "seconds": metadata["train_seconds"],
            "steps": metadata["steps"],
            "world_size": metadata["batch"]["world_size"],
            "sharding": metadata["sharding"],
            "packing_efficiency": metadata["data"]["packing_efficiency"],
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if gpu else None,
        }
    return results


@dataclass
class TokenCount:
    """Real (non-padding) tokens handed to the model."""

    real: int = 0

    def counting(self, collate: Callable[[list[Any]], dict[str, torch.Tensor]]) -> Callable[..., Any]:
        def wrapped(features: list[Any]) -> dict[str, torch.Tensor]:
            batch = collate(features)
            mask = batch.get("attention_mask")
            self.real += int(mask.sum()) if mask is not None else batch["input_ids"].numel()
            return batch

        return wrapped


def _timed_steps(model_dir: Path, dataset: list[Any], collate: Callable[..., Any], batch: int, steps: int, gpu: bool,
                 scratch: Path) -> float:  # fmt: skip
    """Seconds the Trainer spends on `steps` optimiser steps, bf16 on a GPU, float32 on the CPU."""
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="sdpa")
    args = TrainingArguments(
        output_dir=str(scratch), per_device_train_batch_size=batch, max_steps=steps, learning_rate=1e-5,
        bf16=gpu, use_cpu=not gpu, activation_checkpointing=gpu, save_strategy="no", logging_strategy="no",
        dataloader_pin_memory=gpu, remove_unused_columns=False, disable_tqdm=True, report_to="none", seed=0,
    )  # fmt: skip
    trainer = Trainer(model=model, args=args, train_dataset=dataset, data_collator=collate)
    trainer.remove_callback(PrinterCallback)
    start = time.perf_counter()
    trainer.train()
    if gpu:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    del trainer, model
    if gpu:
        torch.cuda.empty_cache()
    return seconds


def packed_vs_padded(model_dir: Path, skills: Path, size: Size, steps: int, gpu: bool, scratch: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    records = parse_records(skills.read_text(encoding="utf-8").splitlines(), str(skills))
    samples = build_samples(records, tokenizer, size.max_length).samples
    packs = pack_samples(samples, size.pack_tokens)
    batch = max(1, round(size.pack_tokens / statistics.mean(len(s.input_ids) for s in samples)))
    features = [{"input_ids": list(s.input_ids), "labels": list(s.labels)} for s in samples]
    padding = DataCollatorForSeq2Seq(tokenizer, padding="longest", label_pad_token_id=-100)
    steps = min(steps, len(packs), len(features) // batch)
    _timed_steps(model_dir, features, padding, batch, 2, gpu, scratch)  # warm-up, not measured
    padded, packed = TokenCount(), TokenCount()
    padded_s = _timed_steps(model_dir, features, padded.counting(padding), batch, steps, gpu, scratch)
    _timed_steps(model_dir, packs, collate_packs, 1, 2, gpu, scratch)
    packed_s = _timed_steps(model_dir, packs, packed.counting(collate_packs), 1, steps, gpu, scratch)
    padded_rate, packed_rate = padded.real / padded_s, packed.real / packed_s
    print(f"baseline  Trainer + DataCollatorForSeq2Seq(padding='longest'), batch {batch}, {steps} steps: "
          f"{padded_rate:,.0f} real tokens/s")  # fmt: skip
    print(f"packed    Trainer + taxbot packs of <= {size.pack_tokens} tokens, {steps} steps: "
          f"{packed_rate:,.0f} real tokens/s")  # fmt: skip
    print(f"speed-up  {packed_rate / padded_rate:.2f}x real tokens/s, packed over padded")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a toy model and data set, on the CPU")
    parser.add_argument("--steps", type=int, default=None, help="optimiser steps per phase (default 30; tiny 4)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak, TFLOP/s")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder, deleted after (default: in /tmp)")
    options = parser.parse_args()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    disable_progress_bars()
    size, gpu = (TINY, False) if options.tiny else (FULL, torch.cuda.is_available())
    if not options.tiny and not gpu:
        raise SystemExit("no GPU here: run with --tiny to check the script on the CPU")
    steps = options.steps or (4 if options.tiny else 30)
    main_rank = int(os.environ.get("RANK", "0")) == 0
    world_size = int(os.environ.get("WORLD_SIZE", "1"))

    # One folder that every rank sees: rank 0 writes the model and the sets there before the others start.
    scratch = options.work or Path(tempfile.gettempdir()) / "taxbot-bench-train"
    model_dir, knowledge, skills = scratch / "model", scratch / "knowledge.jsonl", scratch / "skills.jsonl"
    parameters = 0
    if main_rank:
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        parameters = build_model(model_dir, size)
        write_jsonl(knowledge, knowledge_records(size.knowledge, max_words=size.max_words))
        write_jsonl(skills, skill_records(size.skills, max_words=size.max_words))
    if world_size > 1:
        torch.distributed.init_process_group("nccl" if gpu else "gloo")
        torch.distributed.barrier()
    results = train_phases(model_dir, knowledge, skills, scratch / "runs", size, steps, gpu)
    if not main_rank:
        return
    peak = _peak_flops(options.peak_tflops)
    device = torch.cuda.get_device_name() if gpu else "CPU"
    print(f"model: Llama {parameters / 1e6:,.1f}M parameters (hidden {size.hidden}, {size.layers} layers), "
          f"{'bf16 autocast' if gpu else 'float32'}, {device} x {world_size}")  # fmt: skip
    for phase, r in results.items():
        rate = r["tokens"] / r["seconds"]
        mfu = f"{6 * parameters * rate / (peak * r['world_size']):.1%}" if peak else "n/a (no GPU peak known)"
        memory = f"{r['peak_gib']:.1f} GiB" if r["peak_gib"] is not None else "n/a (CPU)"
        print(f"{phase}: {r['steps']} steps, {r['tokens']:,} tokens in {r['seconds']:.1f} s: {rate:,.0f} tokens/s, "
              f"MFU {mfu}, peak memory {memory}, {r['world_size']} rank(s), sharding {r['sharding']}, "
              f"packing efficiency {r['packing_efficiency']:.3f}")  # fmt: skip
    if world_size == 1:
        packed_vs_padded(model_dir, skills, size, min(steps, 10), gpu, scratch / "compare")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
