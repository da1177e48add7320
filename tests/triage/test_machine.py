"""Machine-written answers: two marks or a self-description warn; one mark alone is a note."""

from __future__ import annotations

from bot.taxonomy.tree import parse_leaf
from bot.triage.hits import Level
from bot.triage.machine import machine_written
from bot.triage.texts import leaf_texts

LEAF = """version: 3
created_by: tester
task_description: Write short e-mails.
seed_examples:
  - question: Write a note asking for the report.
    answer: Hi Sam, could you send the report by Friday? Let me know if that works. Thanks, Ana
  - question: What is photosynthesis?
    answer: Certainly! Here is a simple explanation. Plants turn light into sugar. I hope this helps!
  - question: What is the capital of France?
    answer: As an AI language model, I can tell you it is Paris.
  - question: What is 2 plus 2?
    answer: 2 plus 2 is 4.
"""


def test_levels_follow_the_evidence() -> None:
    leaf = parse_leaf("compositional_skills/mail/qna.yaml", LEAF.encode())
    hits = {h.line: h for h in machine_written(leaf_texts(leaf))}
    assert set(hits) == {6, 8, 10}  # the plain sum is not flagged
    assert hits[6].level is Level.NOTE and "offers more help" in hits[6].message
    assert hits[8].level is Level.WARNING
    assert "answers the prompt" in hits[8].message and "I hope this helps" in hits[8].message
    assert hits[10].level is Level.WARNING and "describes itself as an AI" in hits[10].message
