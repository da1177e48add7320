"""Phase sets: read InstructLab training JSONL, render with the chat template, mask, drop long samples."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import jinja2

from trainer.errors import DataError, TemplateError

ROLES = ("system", "user", "assistant")
IGNORE_INDEX = -100  # the label value transformers' causal-LM loss skips
_MAX_PROBLEMS_SHOWN = 20


@dataclass(frozen=True)
class Message:
    """One turn of a conversation."""

    role: str
    content: str


@dataclass(frozen=True)
class Record:
    """One line of a phase set. `unmask` puts loss on every non-system turn, not only the assistant's."""

    id: str
    messages: tuple[Message, ...]
    unmask: bool
    metadata: Mapping[str, Any]
    source: str  # "file:line", for messages about this record


@dataclass(frozen=True)
class Sample:
    """A rendered record: token ids and labels (IGNORE_INDEX where no loss is taken)."""

    record_id: str
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]


@dataclass(frozen=True)
class SampleSet:
    """Samples of a phase, and the ids of records dropped for being longer than max_length."""

    samples: list[Sample]
    max_length: int
    too_long: list[str] = field(default_factory=list)

    @property
    def token_count(self) -> int:
        return sum(len(sample.input_ids) for sample in self.samples)


class ChatTokenizer(Protocol):
    """The part of a transformers tokenizer that rendering needs."""

    def apply_chat_template(
        self, conversation: list[dict[str, str]], *, tokenize: bool, add_generation_prompt: bool
    ) -> Any: ...

    def __call__(self, text: str, *, add_special_tokens: bool, return_offsets_mapping: bool) -> Any: ...


def read_records(path: Path, allow_empty: bool = False) -> list[Record]:
    """Read a phase set; every bad line is reported in one DataError, each with its file and line. An empty
    set is an error unless `allow_empty` (one of several sets of a stacked phase)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"cannot read phase set {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not UTF-8 text (byte {exc.start}); phase sets are JSONL") from exc
    return parse_records(text.splitlines(), str(path), allow_empty)


def parse_records(lines: Iterable[str], source: str, allow_empty: bool = False) -> list[Record]:
    """Parse JSONL lines (blank lines skipped) into records, collecting every problem before raising."""
    records: list[Record] = []
    problems: list[str] = []
    bad_lines = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            raw = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"{where}: not valid JSON ({exc.msg} at column {exc.colno})")
            bad_lines += 1
            continue
        found = _record_problems(raw)
        if found:
            bad_lines += 1
            problems.extend(f"{where}: {problem}" for problem in found)
            continue
        records.append(
            Record(
                id=raw["id"],
                messages=tuple(Message(m["role"], m["content"]) for m in raw["messages"]),
                unmask=raw.get("unmask", False),
                metadata=raw.get("metadata", {}),
                source=where,
            )
        )
    if problems:
        shown = problems[:_MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        tail = f"\n  ... and {more} more" if more else ""
        raise DataError(
            f"{source} has {bad_lines} bad record(s), {len(problems)} problem(s); each line must be "
            '{"id": str, "messages": [{"role": ..., "content": str}, ...], '
            '"metadata": {...}, "unmask": bool}:\n  ' + "\n  ".join(shown) + tail
        )
    if not records and not allow_empty:
        raise DataError(f"{source} has no records; a phase set needs at least one JSON line")
    return records


def _record_problems(raw: object) -> list[str]:
    if not isinstance(raw, dict):
        return [f"must be a JSON object, found {type(raw).__name__}"]
    problems = [f"missing field '{name}'" for name in ("id", "messages") if name not in raw]
    if "id" in raw and not isinstance(raw["id"], str):
        problems.append(f"'id' must be a string, found {raw['id']!r}")
    if "metadata" in raw and not isinstance(raw["metadata"], dict):
        problems.append("'metadata' must be an object")
    if "unmask" in raw and not isinstance(raw["unmask"], bool):
        problems.append(f"'unmask' must be true or false, found {raw['unmask']!r}")
    messages = raw.get("messages")
    if "messages" in raw and (not isinstance(messages, list) or not messages):
        problems.append("'messages' must be a non-empty list")
    elif isinstance(messages, list):
        problems.extend(_message_problems(messages))
        learnable = {"assistant", "user"} if raw.get("unmask") is True else {"assistant"}
        if not any(isinstance(m, dict) and m.get("role") in learnable for m in messages):
            problems.append(f"has no {' or '.join(sorted(learnable))} turn to learn from")
    return problems


def _message_problems(messages: list[Any]) -> list[str]:
    problems = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            problems.append(f"messages[{index}] must be an object")
            continue
        if message.get("role") not in ROLES:
            problems.append(f"messages[{index}].role must be one of {', '.join(ROLES)}, found {message.get('role')!r}")
        if not isinstance(message.get("content"), str):
            problems.append(f"messages[{index}].content must be a string")
    return problems


def select_replay(records: Sequence[Record], fraction: float, seed: int) -> list[Record]:
    """The share of an earlier phase's records replayed in a later phase, chosen reproducibly."""
    count = round(len(records) * fraction)
    return random.Random(seed).sample(list(records), count)


def build_samples(records: Iterable[Record], tokenizer: ChatTokenizer, max_length: int) -> SampleSet:
    """Render every record; samples longer than max_length are dropped and counted, never truncated."""
    kept: list[Sample] = []
    too_long: list[str] = []
    for record in records:
        sample = render_sample(record, tokenizer)
        if len(sample.input_ids) > max_length:
            too_long.append(record.id)
        else:
            kept.append(sample)
    return SampleSet(samples=kept, max_length=max_length, too_long=too_long)


def render_sample(record: Record, tokenizer: ChatTokenizer) -> Sample:
    """Tokenize a record with the model's chat template; labels only on the turns that carry loss.

    Turn boundaries come from rendering growing prefixes of the conversation as text and mapping
    character spans onto tokens through the tokenizer's offsets, so any template that renders
    earlier turns the same way regardless of later turns works. An assistant turn's span starts
    after the generation prompt (the header the model is given at inference) and ends with the
    template's end-of-turn text, so the model learns to stop.
    """
    conversation = [{"role": m.role, "content": m.content} for m in record.messages]
    full = _render(tokenizer, conversation, record, add_generation_prompt=False)
    spans: list[tuple[int, int]] = []
    for index, message in enumerate(record.messages):
        if not (message.role == "assistant" or (record.unmask and message.role == "user")):
            continue
        start = _turn_start(tokenizer, conversation[:index], full, record, message.role == "assistant")
        end = len(_prefix_of(full, tokenizer, conversation[: index + 1], record, add_generation_prompt=False))
        spans.append((start, end))
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    input_ids = tuple(encoded["input_ids"])
    labels = tuple(
        token if any(begin < span_end and end > span_start for span_start, span_end in spans) else IGNORE_INDEX
        for token, (begin, end) in zip(input_ids, encoded["offset_mapping"], strict=True)
    )
    return Sample(record_id=record.id, input_ids=input_ids, labels=labels)


def _turn_start(
    tokenizer: ChatTokenizer, before: list[dict[str, str]], full: str, record: Record, is_assistant: bool
) -> int:
    if not before:
        return 0
    if is_assistant:
        prompt = _render(tokenizer, before, record, add_generation_prompt=True)
        if full.startswith(prompt):
            return len(prompt)
    return len(_prefix_of(full, tokenizer, before, record, add_generation_prompt=False))


def _prefix_of(
    full: str,
    tokenizer: ChatTokenizer,
    turns: list[dict[str, str]],
    record: Record,
    *,
    add_generation_prompt: bool,
) -> str:
    text = _render(tokenizer, turns, record, add_generation_prompt=add_generation_prompt)
    if not full.startswith(text):
        raise TemplateError(
            f"record {record.id!r} ({record.source}): the chat template renders the first "
            f"{len(turns)} turn(s) differently when later turns follow, so the turns carrying loss "
            "cannot be located; "
            "use a template that renders earlier turns independently of later ones"
        )
    return text


def _render(
    tokenizer: ChatTokenizer, turns: list[dict[str, str]], record: Record, *, add_generation_prompt: bool
) -> str:
    try:
        return tokenizer.apply_chat_template(turns, tokenize=False, add_generation_prompt=add_generation_prompt)
    except jinja2.TemplateError as exc:
        raise TemplateError(f"record {record.id!r} ({record.source}): the chat template refused it: {exc}") from exc
