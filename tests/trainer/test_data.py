"""Phase sets: masking token by token, over-long samples dropped and counted, bad records named by line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers", reason="needs the `train` extra")

from transformers import PreTrainedTokenizerFast

from tests.fakes.phase_sets import WORDS, knowledge_records, skill_records
from tests.fakes.tiny_model import build_tokenizer
from trainer.data import (
    IGNORE_INDEX,
    build_samples,
    parse_records,
    read_records,
    render_sample,
    select_replay,
)
from trainer.errors import DataError, TemplateError

W = WORDS  # short words the tiny tokenizer knows, one token each


@pytest.fixture(scope="module")
def tokenizer() -> PreTrainedTokenizerFast:
    return build_tokenizer()


def _record(messages: list[tuple[str, str]], unmask: bool = False) -> str:
    return json.dumps(
        {
            "id": "r1",
            "messages": [{"role": role, "content": content} for role, content in messages],
            "metadata": {},
            "unmask": unmask,
        }
    )


def _labelled_tokens(tokenizer: PreTrainedTokenizerFast, line: str) -> tuple[list[str], list[str | None]]:
    (record,) = parse_records([line], "set.jsonl")
    sample = render_sample(record, tokenizer)
    tokens = tokenizer.convert_ids_to_tokens(list(sample.input_ids))
    for token_id, label in zip(sample.input_ids, sample.labels, strict=True):
        assert label in (IGNORE_INDEX, token_id), "a label is either ignored or the token itself"
    return tokens, [
        token if label != IGNORE_INDEX else None for token, label in zip(tokens, sample.labels, strict=True)
    ]


CONVERSATION = [
    ("system", f"{W[0]} {W[1]}"),
    ("user", f"{W[2]} {W[3]} ?"),
    ("assistant", f"{W[4]} {W[5]} ."),
    ("user", W[6]),
    ("assistant", W[7]),
]


SYSTEM = ["<s>", "<|system|>", W[0], W[1], "<|end|>"]
USER_1 = ["<|user|>", W[2], W[3], "?", "<|end|>"]
ANSWER_1 = [W[4], W[5], ".", "<|end|>"]
USER_2 = ["<|user|>", W[6], "<|end|>"]
ANSWER_2 = [W[7], "<|end|>"]


def test_loss_only_on_assistant_turns_and_their_end_token(tokenizer: PreTrainedTokenizerFast) -> None:
    tokens, labelled = _labelled_tokens(tokenizer, _record(CONVERSATION))
    assert tokens == [*SYSTEM, *USER_1, "<|assistant|>", *ANSWER_1, *USER_2, "<|assistant|>", *ANSWER_2]
    # The assistant header is prompt, not target; the end token is a target, so the model learns to stop.
    assert labelled == [*[None] * 11, *ANSWER_1, *[None] * 4, *ANSWER_2]


def test_unmask_adds_user_turns_but_never_the_system_turn(tokenizer: PreTrainedTokenizerFast) -> None:
    _, labelled = _labelled_tokens(tokenizer, _record(CONVERSATION, unmask=True))
    assert labelled == [*[None] * len(SYSTEM), *USER_1, None, *ANSWER_1, *USER_2, None, *ANSWER_2]


def test_over_long_samples_are_dropped_and_counted_never_truncated(
    tokenizer: PreTrainedTokenizerFast,
) -> None:
    lines = [json.dumps(record) for record in knowledge_records(60, max_words=64) + skill_records(60, max_words=64)]
    records = parse_records(lines, "set.jsonl")
    sample_set = build_samples(records, tokenizer, max_length=64)
    lengths = {record.id: len(render_sample(record, tokenizer).input_ids) for record in records}
    assert sorted(sample_set.too_long) == sorted(rid for rid, length in lengths.items() if length > 64)
    assert sample_set.too_long, "the realistic mix has a tail past the limit"
    assert len(sample_set.samples) + len(sample_set.too_long) == len(records)
    for sample in sample_set.samples:
        assert len(sample.input_ids) == lengths[sample.record_id] <= 64


def test_bad_records_are_all_reported_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "knowledge.jsonl"
    good = _record([("user", "q"), ("assistant", "a")])
    path.write_text(
        "\n".join(
            [
                good,
                "{not json",
                json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}),
                json.dumps({"id": "x", "messages": [{"role": "robot", "content": 3}]}),
                "",
                json.dumps({"id": "y", "messages": [{"role": "user", "content": "only a question"}]}),
                json.dumps({"id": "z", "messages": [{"role": "assistant", "content": "a"}], "unmask": "yes"}),
            ]
        ),
        encoding="utf-8",
    )
    with pytest.raises(DataError) as caught:
        read_records(path)
    message = str(caught.value)
    assert f"{path} has 5 bad record(s), 7 problem(s)" in message
    assert f"{path}:2: not valid JSON" in message
    assert f"{path}:3: missing field 'id'" in message
    assert f"{path}:4: messages[0].role must be one of system, user, assistant, found 'robot'" in message
    assert f"{path}:4: messages[0].content must be a string" in message
    assert f"{path}:6: has no assistant turn to learn from" in message
    assert f"{path}:7: 'unmask' must be true or false" in message
    assert f"{path}:1:" not in message


def test_an_empty_or_missing_set_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no records"):
        read_records(tmp_path / "empty.jsonl")
    with pytest.raises(DataError, match="cannot read phase set"):
        read_records(tmp_path / "absent.jsonl")


def test_a_template_that_rewrites_earlier_turns_is_refused(tokenizer: PreTrainedTokenizerFast) -> None:
    quirky = build_tokenizer()
    # Renders the system prompt only when it is the whole conversation: earlier turns change later.
    quirky.chat_template = (
        "{% for m in messages %}{% if m['role'] != 'system' or messages|length == 1 %}"
        "<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endif %}{% endfor %}"
    )
    (record,) = parse_records([_record([("system", W[0]), ("user", W[1]), ("assistant", W[2])], unmask=True)], "s")
    with pytest.raises(TemplateError, match="renders the first 1 turn"):
        render_sample(record, quirky)


def test_replay_share_is_reproducible() -> None:
    records = parse_records([json.dumps(r) for r in knowledge_records(50, max_words=32)], "k.jsonl")
    first = select_replay(records, 0.2, seed=7)
    assert len(first) == 10
    assert [r.id for r in first] == [r.id for r in select_replay(records, 0.2, seed=7)]
    assert select_replay(records, 0.0, seed=7) == []
