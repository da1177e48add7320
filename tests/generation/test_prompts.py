"""Reading what real models write: whole replies, fenced or chatty ones, cut ones, and broken items."""

from __future__ import annotations

import pytest

from bot.generation.prompts import read_candidates, read_verdicts, stands_alone


def test_a_clean_reply_is_read_whole() -> None:
    good, bad = read_candidates(
        '{"pairs": [{"question": "Q1?", "answer": "A1."}, {"question": "Q2?", "answer": "A2."}]}', False
    )
    assert [c.question for c in good] == ["Q1?", "Q2?"] and bad == 0


def test_a_broken_item_loses_only_itself() -> None:
    reply = (
        '{"pairs": [{"question": "Q1?", "answer": "A1."}, {"question": "Q2?"}, {"question": "Q3?", "answer": "A3."}]}'
    )
    good, bad = read_candidates(reply, False)
    assert [c.question for c in good] == ["Q1?", "Q3?"] and bad == 1


def test_a_reply_cut_mid_item_keeps_the_items_before_the_cut() -> None:
    reply = 'Here: {"items": [{"context": "C1", "question": "Q1?", "answer": "A1."}, {"context": "C2", "question": "Q2'
    good, _ = read_candidates(reply, grounded=True)
    assert [(c.context, c.question) for c in good] == [("C1", "Q1?")]


def test_other_key_names_and_a_bare_list_are_read() -> None:
    good, _ = read_candidates('```json\n[{"Instruction": "Q?", "Response": "A."}]\n```', False)
    assert [(c.question, c.answer) for c in good] == [("Q?", "A.")]


def test_nothing_usable_is_an_error() -> None:
    with pytest.raises(ValueError, match="no usable item"):
        read_candidates('{"pairs": [{"question": "only a question"}]}', False)
    with pytest.raises(ValueError):
        read_candidates("I cannot help with that.", False)


def test_verdicts_with_wrong_indices_are_read_in_order() -> None:
    # SmolLM2 numbers its verdicts 1 and 3 for items 0 and 1.
    reply = '{"scores": [{"index": 1, "reason": "r", "score": 2}, {"index": 3, "reason": "r", "score": "3"}]}'
    assert {i: v.score for i, v in read_verdicts(reply, 2).items()} == {0: 2, 1: 3}


def test_knowledge_verdicts_carry_their_checks() -> None:
    reply = (
        '{"scores": [{"index": 0, "reason": "r", "faithful": false, "relevant": true, "standalone": true, "score": 3}]}'
    )
    assert read_verdicts(reply, 1)[0].faithful is False


@pytest.mark.parametrize(
    ("question", "alone"),
    [
        ("How many islands does Lake Tanager have?", True),
        ("According to the passage, how many islands are there?", False),
        ("What is described in the text above?", False),
        ("In this document, who founded the company?", False),
    ],
)
def test_a_question_must_stand_alone(question: str, alone: bool) -> None:
    assert stands_alone(question) is alone
