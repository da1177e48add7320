"""Training config: dataclasses with LAB defaults, YAML loading, dotted overrides, one-pass validation."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from trainer.errors import ConfigError

SchedulerName = Literal["cosine", "linear", "constant", "constant_with_warmup"]
_SAFE_DIR_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_INVALID = object()  # stands for a value that failed its check, so building goes on and finds the rest


@dataclass(frozen=True)
class RunSettings:
    """Where a run writes, which taxonomy commit it trains, and how phases are arranged."""

    output_dir: str = "runs"
    taxonomy_commit: str = "unversioned"
    mode: Literal["phased", "stacked"] = "phased"
    stop_after: Literal["phase1", "phase2"] = "phase2"  # phased mode: "phase1" trains phase 1 only
    seed: int = 42
    use_cpu: bool = False
    logging_steps: int = 1
    save_steps: int = 100
    save_total_limit: int = 2


@dataclass(frozen=True)
class LoraSettings:
    """LoRA adapter shape, used when model.finetune is "lora"."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class ModelSettings:
    """The student model: a local save_pretrained directory or a Hub name."""

    name_or_path: str | None = None
    finetune: Literal["full", "lora"] = "full"
    precision: Literal["float32", "bf16-mixed", "fp16-mixed"] = "bf16-mixed"
    attn_implementation: str = "sdpa"
    activation_checkpointing: bool = False
    lora: LoraSettings = field(default_factory=LoraSettings)


@dataclass(frozen=True)
class DataSettings:
    """Phase sets (InstructLab training JSONL) and how they become packed token rows."""

    phase1: str | None = None
    phase2: str | None = None
    max_length: int = 4096
    pack_tokens: int = 16384
    replay_fraction: float = 1.0  # share of the phase-1 set replayed in phase 2, when knowledge_share is unset
    knowledge_share: float | None = None  # phase 2 topped up with phase-1 records until this share is knowledge
    workers: int = 0  # processes that render the data; 0: one per 2,000 records, at most one per CPU


@dataclass(frozen=True)
class PhaseSettings:
    """Optimiser schedule of one phase; effective_batch counts samples per optimiser step.

    The LAB values assume far more data than a taxonomy's: effective_batch shrinks so that an epoch has at
    least min_steps_per_epoch steps, and warmup takes at most max_warmup_share of the steps, so a small
    phase still reaches its learning rate.
    """

    learning_rate: float
    effective_batch: int
    epochs: float
    warmup_steps: int = 25
    lr_scheduler: SchedulerName = "cosine"
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    max_steps: int = -1
    adam_beta2: float = 0.95  # as instructlab/training; the Trainer's default is 0.999
    min_steps_per_epoch: int = 10
    max_warmup_share: float = 0.1


@dataclass(frozen=True)
class DistributedSettings:
    """How ranks share the model. "auto": FSDP2 full shard for a full fine-tune on several GPUs, else plain
    data parallel; "shard" / "none" force either; any other value goes to TrainingArguments.fsdp as is."""

    fsdp: str = "auto"
    fsdp_config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """One training run. Phase defaults are the LAB papers' (phase 1 knowledge, phase 2 skills)."""

    run: RunSettings = field(default_factory=RunSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    data: DataSettings = field(default_factory=DataSettings)
    phase1: PhaseSettings = field(
        default_factory=lambda: PhaseSettings(learning_rate=2e-5, effective_batch=128, epochs=7)
    )
    phase2: PhaseSettings = field(
        default_factory=lambda: PhaseSettings(learning_rate=6e-6, effective_batch=3840, epochs=10)
    )
    stacked: PhaseSettings = field(
        default_factory=lambda: PhaseSettings(learning_rate=2e-5, effective_batch=128, epochs=7)
    )
    distributed: DistributedSettings = field(default_factory=DistributedSettings)


def load_config(path: Path, overrides: list[str]) -> TrainConfig:
    """Read a YAML config, apply `dotted.key=value` overrides, and check every value in one pass."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    return parse_config(raw if raw is not None else {}, overrides, source=str(path))


def parse_config(raw: object, overrides: list[str], source: str = "config") -> TrainConfig:
    """Merge parsed YAML and overrides onto the defaults; one ConfigError lists every problem."""
    errors: list[str] = []
    merged = _as_plain(TrainConfig())
    if isinstance(raw, dict):
        _merge(TrainConfig, merged, raw, "", errors)
    else:
        errors.append(f"the top level must be a mapping of sections, found {type(raw).__name__}")
    for override in overrides:
        _apply_override(merged, override, errors)
    config = _build(TrainConfig, merged, "", errors)
    if not errors:
        errors.extend(_check_values(config))
    if errors:
        raise ConfigError(f"{source}: {len(errors)} problem(s):\n  " + "\n  ".join(errors))
    return config


def _as_plain(value: object) -> Any:
    """A dataclass as nested dicts, keeping free-form dict fields (fsdp_config) as they are."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _as_plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def _merge(cls: type, into: dict[str, Any], given: dict[Any, Any], path: str, errors: list[str]) -> None:
    hints = typing.get_type_hints(cls)
    for key, value in given.items():
        where = f"{path}{key}"
        # Unknown keys are errors, not warnings: a mistyped hyperparameter would cost a whole GPU run.
        if key not in hints:
            errors.append(f"unknown key '{where}'; known keys here: {', '.join(hints)}")
        elif _is_section(hints[key]):
            if isinstance(value, dict):
                _merge(hints[key], into[key], value, f"{where}.", errors)
            else:
                errors.append(f"'{where}' must be a mapping, found {type(value).__name__}")
        else:
            into[key] = value


def _apply_override(merged: dict[str, Any], override: str, errors: list[str]) -> None:
    key, sep, text = override.partition("=")
    if not sep or not key:
        errors.append(f"override '{override}' must look like dotted.key=value (e.g. phase1.epochs=3)")
        return
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        value = text
    cls: type = TrainConfig
    node = merged
    parts = key.split(".")
    for depth, part in enumerate(parts):
        hints = typing.get_type_hints(cls)
        prefix = ".".join(parts[:depth])
        if part not in hints:
            known = ", ".join(hints)
            errors.append(f"unknown key '{key}' in override: no '{part}' under '{prefix or 'top'}' ({known})")
            return
        last = depth == len(parts) - 1
        if _is_section(hints[part]):
            if last:
                errors.append(f"override '{key}' names a whole section; set one of its keys instead")
                return
            cls, node = hints[part], node[part]
        elif last:
            node[part] = value
        elif typing.get_origin(hints[part]) is dict:
            node[part] = {**node[part], ".".join(parts[depth + 1 :]): value}
            return
        else:
            errors.append(f"unknown key '{key}' in override: '{'.'.join(parts[: depth + 1])}' is a value")
            return


def _is_section(hint: Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _build(cls: type, data: dict[str, Any], path: str, errors: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    values = {name: _coerce(data[name], hints[name], f"{path}{name}", errors) for name in hints}
    if any(value is _INVALID for value in values.values()):
        return _INVALID
    return cls(**values)


def _coerce(value: Any, hint: Any, where: str, errors: list[str]) -> Any:
    origin = typing.get_origin(hint)
    if _is_section(hint):
        return _build(hint, value, f"{where}.", errors)
    if origin in (types.UnionType, typing.Union):
        if value is None:
            return None
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _coerce(value, inner, where, errors)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value in choices:
            return value
        return _fail(errors, where, value, "one of " + ", ".join(map(str, choices)))
    if hint is bool:
        return value if isinstance(value, bool) else _fail(errors, where, value, "true or false")
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return value if ok else _fail(errors, where, value, "a whole number")
    if hint is float:
        return _as_float(value, where, errors)
    if hint is str:
        return value if isinstance(value, str) else _fail(errors, where, value, "a string")
    if origin is tuple:
        ok = isinstance(value, list | tuple) and all(isinstance(item, str) for item in value)
        return tuple(value) if ok else _fail(errors, where, value, "a list of strings")
    if origin is dict:
        return dict(value) if isinstance(value, dict) else _fail(errors, where, value, "a mapping")
    raise TypeError(f"config field {where} has an unsupported type {hint!r}")


def _as_float(value: Any, where: str, errors: list[str]) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    # PyYAML follows YAML 1.1, which reads `2e-5` (no dot) as a string.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    return _fail(errors, where, value, "a number")


def _fail(errors: list[str], where: str, value: Any, expected: str) -> object:
    errors.append(f"'{where}' must be {expected}, found {value!r}")
    return _INVALID


def _check_values(config: TrainConfig) -> list[str]:
    problems: list[str] = []

    def need(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    run, data, lora = config.run, config.data, config.model.lora
    need(
        bool(_SAFE_DIR_NAME.match(run.taxonomy_commit)),
        f"'run.taxonomy_commit' must be a plain name (letters, digits, . _ -), found {run.taxonomy_commit!r}",
    )
    need(
        run.mode == "phased" or run.stop_after == "phase2",
        "'run.stop_after: phase1' needs 'run.mode: phased'; a stacked run has a single phase",
    )
    need(run.logging_steps >= 1, "'run.logging_steps' must be at least 1")
    need(run.save_steps >= 1, "'run.save_steps' must be at least 1")
    need(run.save_total_limit >= 1, "'run.save_total_limit' must be at least 1 (resuming needs a checkpoint)")
    need(data.max_length >= 2, "'data.max_length' must be at least 2 tokens")
    need(
        data.pack_tokens >= data.max_length,
        f"'data.pack_tokens' ({data.pack_tokens}) must be at least 'data.max_length' ({data.max_length}),"
        " or the longest samples fit in no pack",
    )
    need(0.0 <= data.replay_fraction <= 1.0, "'data.replay_fraction' must be between 0 and 1")
    need(
        data.knowledge_share is None or 0.0 <= data.knowledge_share < 1.0,
        "'data.knowledge_share' must be in [0, 1)",
    )
    need(
        data.knowledge_share is None or data.replay_fraction == 1.0,
        "'data.knowledge_share' and 'data.replay_fraction' both decide phase 2's replay; set only one",
    )
    need(data.workers >= 0, "'data.workers' must be 0 (automatic) or more")
    need(lora.r >= 1 and lora.alpha >= 1, "'model.lora.r' and 'model.lora.alpha' must be at least 1")
    need(0.0 <= lora.dropout < 1.0, "'model.lora.dropout' must be in [0, 1)")
    for name in ("phase1", "phase2", "stacked"):
        phase: PhaseSettings = getattr(config, name)
        need(phase.learning_rate > 0, f"'{name}.learning_rate' must be positive")
        need(phase.effective_batch >= 1, f"'{name}.effective_batch' must be at least 1 sample")
        need(phase.epochs > 0, f"'{name}.epochs' must be positive")
        need(phase.warmup_steps >= 0, f"'{name}.warmup_steps' must not be negative")
        need(phase.max_steps == -1 or phase.max_steps >= 1, f"'{name}.max_steps' must be -1 (off) or >= 1")
        need(0.0 < phase.adam_beta2 < 1.0, f"'{name}.adam_beta2' must be in (0, 1)")
        need(phase.min_steps_per_epoch >= 1, f"'{name}.min_steps_per_epoch' must be at least 1")
        need(0.0 <= phase.max_warmup_share <= 1.0, f"'{name}.max_warmup_share' must be between 0 and 1")
    return problems
