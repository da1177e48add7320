"""One training phase: data, model, Trainer, final checkpoint with metadata. Reads like the script it is."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from accelerate import PartialState
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint

from trainer.callbacks import ProgressReport, SigtermCheckpoint
from trainer.config import TrainConfig
from trainer.curves import loss_points
from trainer.data import SampleSet, build_samples, read_records, select_replay
from trainer.errors import TemplateError, TrainerError
from trainer.packing import Pack, collate_packs, pack_samples, packing_efficiency
from trainer.plan import METADATA_FILE, PhasePlan, gradient_accumulation, inherited_summary

log = logging.getLogger("taxbot.trainer")


@dataclass(frozen=True)
class PhaseOutcome:
    """How a phase ended: finished (final_dir written) or stopped by SIGTERM at a checkpoint."""

    finished: bool
    final_dir: Path | None = None
    checkpoint: str | None = None


@dataclass(frozen=True)
class PhaseData:
    """A phase's samples as packed rows, and the counts a reader of the metadata wants."""

    samples: SampleSet
    replayed_records: int
    packs: list[Pack]
    pack_tokens: int

    def summary(self, sets: tuple[str, ...]) -> dict[str, Any]:
        return {
            "sets": list(sets),
            "replayed_records": self.replayed_records,
            "samples": len(self.samples.samples),
            "dropped_too_long": len(self.samples.too_long),
            "max_length": self.samples.max_length,
            "tokens": self.samples.token_count,
            "packs": len(self.packs),
            "pack_tokens": self.pack_tokens,
            "packing_efficiency": round(packing_efficiency(self.packs, self.pack_tokens), 4),
        }


def train_phase(
    plan: PhasePlan, config: TrainConfig, run_dir: Path, fingerprint: str, *, interactive: bool
) -> PhaseOutcome:
    """Train one phase, resuming from its newest checkpoint when an earlier attempt was stopped."""
    phase_dir = plan.phase_dir(run_dir)
    tokenizer = _load_tokenizer(plan.start_model)
    data = _phase_data(plan, config, tokenizer)
    summary = data.summary(plan.sets)
    world_size = PartialState().num_processes
    accumulation = gradient_accumulation(
        plan.settings.effective_batch, summary["samples"], summary["packs"], world_size
    )
    log.info(
        "%s: %d samples (%d over %d tokens dropped) in %d packs of <= %d tokens, packing efficiency %.1f%%",
        plan.name,
        summary["samples"],
        summary["dropped_too_long"],
        summary["max_length"],
        summary["packs"],
        summary["pack_tokens"],
        100 * summary["packing_efficiency"],
    )

    model = _load_model(plan.start_model, config)
    sigterm = SigtermCheckpoint()
    trainer = Trainer(
        model=model,
        args=_training_args(plan, config, phase_dir, accumulation),
        train_dataset=data.packs,
        data_collator=collate_packs,
        processing_class=tokenizer,
        callbacks=[sigterm, ProgressReport(plan.name, interactive)],
    )
    trainer.remove_callback(PrinterCallback)  # ProgressReport prints instead
    resume_from = get_last_checkpoint(str(phase_dir)) if phase_dir.is_dir() else None
    if resume_from:
        log.info("%s: resuming from %s", plan.name, resume_from)
    with sigterm.listening():
        trainer.train(resume_from_checkpoint=resume_from)
    if sigterm.stopped_at is not None:
        return PhaseOutcome(finished=False, checkpoint=get_last_checkpoint(str(phase_dir)))

    final_dir = plan.final_dir(run_dir)
    _save_final(trainer, plan, config, final_dir)
    if trainer.is_world_process_zero():
        curve = loss_points(trainer.state.log_history)
        metadata = {
            "phase": plan.name,
            "taxonomy_commit": config.run.taxonomy_commit,
            "fingerprint": fingerprint,
            "start_model": plan.start_model,
            "finetune": config.model.finetune,
            "settings": dataclasses.asdict(plan.settings),
            "inherited": _inherited(plan),
            "data": summary,
            "batch": {
                "world_size": world_size,
                "gradient_accumulation_steps": accumulation,
                "samples_per_step": round(
                    accumulation * world_size * summary["samples"] / summary["packs"], 1
                ),
            },
            "steps": trainer.state.global_step,
            "final_loss": curve[-1][1] if curve else None,
            "loss_curve": curve,
        }
        (final_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    trainer.accelerator.wait_for_everyone()
    return PhaseOutcome(finished=True, final_dir=final_dir)


def _phase_data(plan: PhasePlan, config: TrainConfig, tokenizer: Any) -> PhaseData:
    records = [record for path in plan.sets for record in read_records(Path(path))]
    replay = []
    if plan.replay_set is not None:
        replay = select_replay(read_records(Path(plan.replay_set)), plan.replay_fraction, config.run.seed)
    sample_set = build_samples([*records, *replay], tokenizer, config.data.max_length)
    if not sample_set.samples:
        raise TrainerError(
            f"{plan.name}: all {len(sample_set.too_long)} samples are longer than data.max_length="
            f"{config.data.max_length} tokens; raise data.max_length (and data.pack_tokens)"
        )
    packs = pack_samples(sample_set.samples, config.data.pack_tokens)
    return PhaseData(sample_set, len(replay), packs, config.data.pack_tokens)


def _load_tokenizer(name_or_path: str) -> Any:
    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except OSError as exc:
        raise TrainerError(f"cannot load the tokenizer of {name_or_path}: {exc}") from exc
    if not tokenizer.chat_template:
        raise TemplateError(
            f"{name_or_path} has no chat template; samples are rendered with the model's own template, "
            "so add one (tokenizer.chat_template) to the model directory"
        )
    return tokenizer


def _load_model(name_or_path: str, config: TrainConfig) -> Any:
    try:
        # Master weights stay in float32; bf16/fp16 are autocast through TrainingArguments.
        model: Any = AutoModelForCausalLM.from_pretrained(
            name_or_path, dtype=torch.float32, attn_implementation=config.model.attn_implementation
        )
    except OSError as exc:
        raise TrainerError(f"cannot load the model {name_or_path}: {exc}") from exc
    if config.model.finetune == "lora":
        lora = config.model.lora
        peft_config = LoraConfig(
            r=lora.r,
            lora_alpha=lora.alpha,
            lora_dropout=lora.dropout,
            target_modules=list(lora.target_modules),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, peft_config)
    return model


def _training_args(
    plan: PhasePlan, config: TrainConfig, phase_dir: Path, accumulation: int
) -> TrainingArguments:
    settings, run = plan.settings, config.run
    return TrainingArguments(
        output_dir=str(phase_dir),
        per_device_train_batch_size=1,  # one pack per micro-batch; a pack holds many samples
        gradient_accumulation_steps=accumulation,
        num_train_epochs=settings.epochs,
        max_steps=settings.max_steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=settings.warmup_steps,
        weight_decay=settings.weight_decay,
        max_grad_norm=settings.max_grad_norm,
        bf16=config.model.precision == "bf16-mixed",
        fp16=config.model.precision == "fp16-mixed",
        activation_checkpointing=config.model.activation_checkpointing,
        logging_steps=run.logging_steps,
        save_strategy="steps",
        save_steps=run.save_steps,
        save_total_limit=run.save_total_limit,
        seed=run.seed,
        use_cpu=run.use_cpu,
        dataloader_pin_memory=not run.use_cpu,
        remove_unused_columns=False,
        disable_tqdm=True,
        report_to="none",
        fsdp=config.distributed.fsdp or None,
        fsdp_config=dict(config.distributed.fsdp_config) or None,
    )


def _save_final(trainer: Trainer, plan: PhasePlan, config: TrainConfig, final_dir: Path) -> None:
    """A full model directory (LoRA merged in) that the next phase, evaluation and release can load."""
    # The Trainer switches the KV cache off for training; the saved model is for generation too.
    trainer.accelerator.unwrap_model(trainer.model).config.use_cache = True
    trainer.save_model(str(final_dir))
    if config.model.finetune == "lora" and trainer.is_world_process_zero():
        # Merged from the saved adapter rather than the live model, which FSDP may hold sharded.
        base = AutoModelForCausalLM.from_pretrained(plan.start_model, dtype=torch.float32)
        merged = PeftModel.from_pretrained(base, str(final_dir)).merge_and_unload()
        # transformers treats a directory holding adapter_config.json as an adapter to apply on load.
        (final_dir / "adapter_config.json").unlink()
        (final_dir / "adapter_model.safetensors").unlink()
        merged.save_pretrained(str(final_dir))
    trainer.accelerator.wait_for_everyone()


def _inherited(plan: PhasePlan) -> dict[str, Any] | None:
    if plan.follows is None:
        return None
    metadata_path = Path(plan.start_model) / METADATA_FILE
    return inherited_summary(json.loads(metadata_path.read_text(encoding="utf-8")))
