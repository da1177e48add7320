"""One training phase: data, model, Trainer, final checkpoint with metadata. Reads like the script it is."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    PrinterCallback,
    Trainer,
    TrainingArguments,
)

from trainer.callbacks import (
    CommitCheckpoints,
    ProgressReport,
    StopOnSignal,
    discard_partial_checkpoints,
    last_complete_checkpoint,
)
from trainer.config import TrainConfig
from trainer.curves import loss_points
from trainer.errors import TemplateError, TrainerError
from trainer.packing import collate_packs
from trainer.plan import METADATA_FILE, PhasePlan, Schedule, fit_schedule, inherited_summary
from trainer.prepare import data_folder, prepare_phase_data
from trainer.ranks import Ranks, use_cpu

log = logging.getLogger("taxbot.trainer")


@dataclass(frozen=True)
class PhaseOutcome:
    """How a phase ended: finished (final_dir written) or stopped by a signal at a checkpoint."""

    finished: bool
    final_dir: Path | None = None
    checkpoint: str | None = None
    stopped_by: str | None = None


def train_phase(
    plan: PhasePlan,
    config: TrainConfig,
    run_dir: Path,
    fingerprint: str,
    ranks: Ranks,
    stop: StopOnSignal,
    *,
    interactive: bool,
) -> PhaseOutcome:
    """Train one phase, resuming from its newest complete checkpoint when an earlier attempt was stopped.

    `stop` listens for the whole run: a signal while data is prepared, or while the previous phase saved
    its final model, stops this phase at its first step.
    """
    phase_dir = plan.phase_dir(run_dir)
    stop.stopped_at = None
    tokenizer = _load_tokenizer(plan.start_model)
    data = prepare_phase_data(
        plan,
        tokenizer,
        max_length=config.data.max_length,
        pack_tokens=config.data.pack_tokens,
        seed=config.run.seed,
        workers=config.data.workers,
        folder=data_folder(phase_dir, fingerprint),
        ranks=ranks,
    )
    summary = data.summary
    schedule = fit_schedule(plan.settings, summary["samples"], summary["packs"], ranks.world_size)
    log.info(
        "%s: %d samples (%d over %d tokens dropped) in %d packs of <= %d tokens, packing efficiency %.1f%%; "
        "%d steps of %.0f samples on %d rank(s), %d warmup",
        plan.name,
        summary["samples"],
        summary["dropped_too_long"],
        summary["max_length"],
        summary["packs"],
        summary["pack_tokens"],
        100 * summary["packing_efficiency"],
        schedule.steps,
        schedule.samples_per_step,
        ranks.world_size,
        schedule.warmup_steps,
    )
    if ranks.is_main:
        for partial in discard_partial_checkpoints(phase_dir):
            log.warning("%s: %s was cut short while being saved; deleted it", plan.name, partial)
    ranks.wait_for_everyone()
    resume_from = last_complete_checkpoint(phase_dir)

    model = _load_model(plan.start_model, config)
    trainer = Trainer(
        model=model,
        args=_training_args(plan, config, phase_dir, schedule, ranks),
        train_dataset=data.packs,
        data_collator=collate_packs,
        processing_class=tokenizer,
        callbacks=[
            stop,
            CommitCheckpoints(ranks, config.run.save_total_limit),
            ProgressReport(plan.name, interactive),
        ],
    )
    trainer.remove_callback(PrinterCallback)  # ProgressReport prints instead
    if resume_from:
        log.info("%s: resuming from %s", plan.name, resume_from)
    result = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    if stop.stopped_at is not None:
        checkpoint = last_complete_checkpoint(phase_dir)
        name = stop.received.name if stop.received is not None else "a signal to another rank"
        return PhaseOutcome(finished=False, checkpoint=str(checkpoint) if checkpoint else None, stopped_by=name)

    final_dir = plan.final_dir(run_dir)
    _save_final(trainer, plan, config, final_dir)
    if ranks.is_main:
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
            "batch": schedule.summary(plan.settings, ranks.world_size),
            "sharding": "fsdp2 full shard" if trainer.is_fsdp_enabled else "data parallel",
            "steps": trainer.state.global_step,
            "tokens": trainer.state.num_input_tokens_seen,
            "train_seconds": round(result.metrics["train_runtime"], 2),  # this session's, after a resume
            "final_loss": curve[-1][1] if curve else None,
            "loss_curve": curve,
        }
        (final_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    ranks.wait_for_everyone()
    return PhaseOutcome(finished=True, final_dir=final_dir)


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


def sharding(config: TrainConfig, world_size: int, cpu: bool) -> dict[str, Any]:
    """FSDP settings for TrainingArguments: "auto" shards a full fine-tune over several GPUs (FSDP2 full shard).

    A 7-8B model's float32 weights, gradients and AdamW state (about 120 GB) fit on no single GPU; full
    shard splits all three across the ranks. LoRA trains too few weights to need it, and one rank trains
    as it is. accelerate shards on GPUs only: CPU ranks (gloo) always train with plain data parallel.
    "shard" shards on GPUs whatever the rest, "none" never; any other value goes to TrainingArguments.fsdp
    as is (the older option strings, e.g. "full_shard auto_wrap").
    """
    choice = config.distributed.fsdp
    if choice == "auto":
        choice = "shard" if world_size > 1 and config.model.finetune == "full" else "none"
    if cpu or choice in ("none", ""):
        return {}
    fsdp_config: dict[str, Any] = {
        "version": 2,
        "reshard_after_forward": True,  # full shard: parameters are gathered per layer, then freed again
        "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",  # one unit per decoder layer (the model's _no_split_modules)
        "state_dict_type": "FULL_STATE_DICT",  # the final model and checkpoints load without FSDP
        # Recomputed inside each sharded layer; the Trainer's own switch would gather the layer twice.
        "activation_checkpointing": config.model.activation_checkpointing,
        **config.distributed.fsdp_config,
    }
    return {"fsdp": True if choice == "shard" else choice, "fsdp_config": fsdp_config}


def _training_args(
    plan: PhasePlan, config: TrainConfig, phase_dir: Path, schedule: Schedule, ranks: Ranks
) -> TrainingArguments:
    settings, run = plan.settings, config.run
    cpu = use_cpu(run.use_cpu)
    fsdp = sharding(config, ranks.world_size, cpu)
    return TrainingArguments(
        output_dir=str(phase_dir),
        per_device_train_batch_size=1,  # one pack per micro-batch; a pack holds many samples
        gradient_accumulation_steps=schedule.accumulation,
        num_train_epochs=settings.epochs,
        max_steps=schedule.steps,
        learning_rate=settings.learning_rate,
        lr_scheduler_type=settings.lr_scheduler,
        warmup_steps=schedule.warmup_steps,
        weight_decay=settings.weight_decay,
        adam_beta2=settings.adam_beta2,
        max_grad_norm=settings.max_grad_norm,
        bf16=config.model.precision == "bf16-mixed",
        fp16=config.model.precision == "fp16-mixed",
        activation_checkpointing=config.model.activation_checkpointing and not fsdp,
        logging_steps=run.logging_steps,
        save_strategy="steps",
        save_steps=run.save_steps,
        save_total_limit=None,  # CommitCheckpoints rotates, only once a newer checkpoint is complete
        seed=run.seed,
        use_cpu=cpu,
        dataloader_pin_memory=not cpu,
        remove_unused_columns=False,
        include_num_input_tokens_seen="all",  # packed rows have no padding: every token is real
        disable_tqdm=True,
        report_to="none",
        **fsdp,
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
