"""The gate's decision with scripted models and judge: it passes and fails when it should, and says why."""

from __future__ import annotations

import pytest

from bot.release.gate import (
    CHANGED,
    GENERAL,
    KEPT,
    GateQuestion,
    GateReport,
    GateSettings,
    gate_questions,
    parse_general_set,
    render_gate,
    rouge_l,
    run_gate,
    token_set,
)
from bot.taxonomy.tree import parse_leaf
from tests.fakes.answerers import ScriptedAnswerer, ScriptedJudge
from tests.leaves import freeform_skill, grounded_skill, knowledge

NEW = "compositional_skills/arithmetic/addition/qna.yaml"
GENERAL_SET = "\n".join(
    f'{{"topic": "geography", "question": "What is the capital of country {i}?", "answer": "Its capital is city {i}."}}'
    for i in range(4)
)


def questions(kept: int = 0) -> list[GateQuestion]:
    new = parse_leaf(NEW, freeform_skill().encode())
    others = [parse_leaf(f"compositional_skills/other{i}/qna.yaml", freeform_skill().encode()) for i in range(3)]
    return gate_questions([new], others, parse_general_set(GENERAL_SET, "general.jsonl"), kept)


def reference_of(prompt: str) -> str:
    """The right answer to any question of `questions()`."""
    for question in questions(kept=3):
        if question.prompt == prompt:
            return question.reference
    raise KeyError(prompt)


def untrained(prompt: str) -> str:
    return "I do not know."


def learned_new_leaf(prompt: str) -> str:
    return reference_of(prompt) if "plus" in prompt else untrained(prompt)


def test_a_candidate_that_is_the_previous_model_does_not_pass() -> None:
    same = ScriptedAnswerer(learned_new_leaf)
    report = run_gate(questions(), same, same, GateSettings())
    assert not report.passed
    improves = report.checks[0]
    assert improves.name == "improves the new leaves" and not improves.passed
    assert "(+0.000, needs +0.020)" in improves.detail
    assert all(check.passed for check in report.checks[1:])  # it regresses nothing, and still fails


def test_a_candidate_that_learned_the_new_leaf_and_forgot_nothing_passes() -> None:
    report = run_gate(questions(), ScriptedAnswerer(untrained), ScriptedAnswerer(learned_new_leaf), GateSettings())
    assert report.passed
    [changed] = [g for g in report.groups if g.name == CHANGED]
    assert (changed.questions, changed.candidate, round(changed.change, 3)) == (5, 1.0, 1.0)
    assert [leaf.name for leaf in report.leaves] == [NEW]


def test_forgetting_the_general_questions_beyond_the_margin_fails() -> None:
    def knew_general(prompt: str) -> str:
        return reference_of(prompt) if "capital" in prompt else untrained(prompt)

    def forgot_general(prompt: str) -> str:
        return reference_of(prompt) if "plus" in prompt else "city"

    report = run_gate(questions(), ScriptedAnswerer(knew_general), ScriptedAnswerer(forgot_general), GateSettings())
    assert not report.passed
    failed = [c for c in report.checks if not c.passed]
    assert [c.name for c in failed] == ["does not regress on general questions"]
    assert "may fall 0.020" in failed[0].detail


def test_a_regression_within_the_margin_passes_and_the_margin_is_configurable() -> None:
    def slightly_worse(prompt: str) -> str:  # one general answer of four loses a word
        if "plus" in prompt:
            return reference_of(prompt)
        answer = reference_of(prompt)
        return answer.replace("Its ", "") if "country 0" in prompt else answer

    previous = ScriptedAnswerer(lambda p: untrained(p) if "plus" in p else reference_of(p))
    candidate = ScriptedAnswerer(slightly_worse)
    loose = run_gate(questions(), previous, candidate, GateSettings(max_regression=0.05))
    strict = run_gate(questions(), previous, candidate, GateSettings(max_regression=0.01))
    assert loose.passed and not strict.passed
    [general] = [g for g in loose.groups if g.name == GENERAL]
    assert -0.05 < general.change < -0.01


def test_other_leaves_are_asked_and_guarded_too() -> None:
    asked = ScriptedAnswerer(untrained)
    report = run_gate(questions(kept=2), asked, ScriptedAnswerer(learned_new_leaf), GateSettings())
    assert [g.name for g in report.groups] == [CHANGED, KEPT, GENERAL]
    assert [g.questions for g in report.groups] == [5, 10, 4]
    assert len(asked.asked) == 19
    assert "does not regress on other leaves" in [c.name for c in report.checks]


def test_the_judge_counts_where_words_alone_mislead() -> None:
    # Both say "N plus N is ..." with a wrong sum: similar words, but only the candidate is right.
    def wrong_sum(prompt: str) -> str:
        return reference_of(prompt).replace(" is ", " is not ") if "plus" in prompt else reference_of(prompt)

    def right_sum(prompt: str) -> str:
        return reference_of(prompt).replace(".", " indeed.") if "plus" in prompt else reference_of(prompt)

    judge = ScriptedJudge(lambda question, answer: 1 if " not " in answer else 3)
    previous, candidate = ScriptedAnswerer(wrong_sum), ScriptedAnswerer(right_sum)
    without = run_gate(questions(), previous, candidate, GateSettings())
    judged = run_gate(questions(), previous, candidate, GateSettings(), judge)
    assert not without.passed and judged.passed
    assert judged.judged and "averaged with the teacher's grade" in render_gate(judged)


def test_no_changed_leaf_means_nothing_to_improve_and_only_forgetting_counts() -> None:
    general = parse_general_set(GENERAL_SET, "general.jsonl")
    report = run_gate(general, ScriptedAnswerer(untrained), ScriptedAnswerer(untrained), GateSettings())
    assert report.passed
    assert report.checks[0].detail == "no leaf was added or changed: nothing to improve"


def test_the_report_renders_a_table_and_every_rule() -> None:
    report = run_gate(questions(), ScriptedAnswerer(untrained), ScriptedAnswerer(learned_new_leaf), GateSettings())
    text = render_gate(report)
    assert text.startswith("**Gate: passed** (scores 0-1, rouge_l)")
    assert "| new and changed leaves | 5 | 0.000 | 1.000 | +1.000 |" in text
    assert f"| `{NEW}` | 5 | 0.000 | 1.000 | +1.000 |" in text
    assert "- pass: improves the new leaves: 1.000 against 0.000 (+1.000, needs +0.020)" in text
    assert GateReport.from_summary(report.summary_json()).summary_json() == report.summary_json()


def test_knowledge_is_asked_without_its_context_grounded_skills_with_it() -> None:
    know = parse_leaf("knowledge/geography/lakes/qna.yaml", knowledge().encode())
    grounded = parse_leaf("compositional_skills/grounded/sales/qna.yaml", grounded_skill().encode())
    asked = gate_questions([know, grounded], [], [], 0)
    assert asked[0].prompt == "Block 1 question 0, how many islands?"
    assert asked[-1].prompt == "The shop sold 5 apples on day 5.\n\nHow many apples were sold on day 5?"


def test_the_sample_of_other_leaves_is_stable_and_bounded() -> None:
    leaves = [parse_leaf(f"compositional_skills/s{i}/qna.yaml", freeform_skill().encode()) for i in range(9)]
    first = {q.source for q in gate_questions([], leaves, [], 3)}
    again = {q.source for q in gate_questions([], list(reversed(leaves)), [], 3)}
    assert first == again and len(first) == 3


def test_a_broken_general_set_names_the_line() -> None:
    with pytest.raises(ValueError, match=r"^mine.jsonl:2: not a \{question, answer, topic\} object"):
        parse_general_set('{"question": "q", "answer": "a"}\n{"question": "only"}\n', "mine.jsonl")


def test_the_shipped_general_set_reads() -> None:
    from importlib.resources import files

    general = parse_general_set((files("bot") / "data" / "general_qa.jsonl").read_text(encoding="utf-8"), "shipped")
    assert len(general) >= 30 and len({q.source for q in general}) >= 8


def test_similarity_metrics() -> None:
    assert rouge_l("The capital is Paris.", "the capital is paris") == 1.0
    assert rouge_l("police killed the gunman", "the gunman killed police") == 0.5
    assert rouge_l("", "anything") == 0.0
    # token_set's quirk: a terse answer whose words all appear in the reference gets full marks.
    assert token_set("Paris", "The capital of France is Paris.") == 1.0
    assert rouge_l("Paris", "The capital of France is Paris.") < 0.3
