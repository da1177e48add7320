"""Seed quality: repeated seeds, bare answers to reasoning, one chat split in turns, answers too short."""

from __future__ import annotations

from bot.taxonomy.tree import parse_leaf
from bot.triage.hits import Check
from bot.triage.seeds import seed_quality
from tests.leaves import freeform_skill

LEAF = """version: 3
created_by: tester
task_description: Word problems.
seed_examples:
  - question: A train travels 60 km in 1 hour. How far does it travel in 3 hours?
    answer: 180 km
  - question: And what about in 5 hours?
    answer: It travels 60 km each hour, so in 5 hours it travels 5 times 60, which is 300 km.
  - question: Write three reasons to learn arithmetic, as a list.
    answer: |
      - It helps with shopping.
  - question: Which is the largest planet in our solar system, by mass and by size?
    answer: Jupiter is the largest planet in the solar system by both mass and size.
  - question: Which planet is the largest in our solar system, by mass and size?
    answer: Jupiter is the largest planet in the solar system, by both mass and size.
"""


def test_each_kind_of_weak_seed_is_named_on_its_line() -> None:
    leaf = parse_leaf("compositional_skills/problems/qna.yaml", LEAF.encode())
    hits = {(h.check, h.line): h for h in seed_quality([leaf], list(Check))}
    assert set(hits) == {
        (Check.BARE_ANSWER, 6),
        (Check.SPLIT_CONVERSATION, 7),
        (Check.SHORT_ANSWER, 10),
        (Check.NEAR_DUPLICATE, 12),
    }
    assert "asks for 3 reasons, the answer has 1" in hits[(Check.SHORT_ANSWER, 10)].message
    assert "line 14" in hits[(Check.NEAR_DUPLICATE, 12)].message


def test_a_clean_leaf_and_checks_turned_off_say_nothing() -> None:
    clean = parse_leaf("compositional_skills/sums/qna.yaml", freeform_skill().encode())
    assert seed_quality([clean], list(Check)) == []
    leaf = parse_leaf("compositional_skills/problems/qna.yaml", LEAF.encode())
    assert {h.check for h in seed_quality([leaf], [Check.SHORT_ANSWER])} == {Check.SHORT_ANSWER}


def test_leaves_checked_together_name_only_their_own_repeats() -> None:
    leaf = parse_leaf("compositional_skills/problems/qna.yaml", LEAF.encode())
    copy = parse_leaf("compositional_skills/copy/qna.yaml", LEAF.encode())
    repeats = sorted((h.path, h.line) for h in seed_quality([leaf, copy], [Check.NEAR_DUPLICATE]))
    # The copy's seeds against the first leaf's are `similar`'s to report; each leaf's own repeat is named once.
    assert repeats == [("compositional_skills/copy/qna.yaml", 12), ("compositional_skills/problems/qna.yaml", 12)]
