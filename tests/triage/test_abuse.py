"""Offensive language: the sentence is quoted for the triager, a word being taught is not abuse."""

from __future__ import annotations

import pytest

from bot.taxonomy.tree import parse_leaf
from bot.triage.abuse import abuse
from bot.triage.hits import Check, Level
from bot.triage.texts import Origin, leaf_texts

LEAF = """version: 3
created_by: tester
task_description: Rhymes and lists.
seed_examples:
  - question: Give a word that rhymes with pool.
    answer: Fool
  - question: Which word is the odd one out of love, like, adore and hate?
    answer: hate
  - question: |
      List the people on the invoice.
    answer: |
      - John Doe (purchaser)
      - Jane Doe (receiver) Only a complete asshole would ask this.
"""


def test_an_insult_tacked_onto_a_list_line_is_quoted_and_single_words_are_left_alone() -> None:
    leaf = parse_leaf("compositional_skills/words/qna.yaml", LEAF.encode())
    seeds = [t for t in leaf_texts(leaf) if t.origin in (Origin.QUESTION, Origin.ANSWER)]
    [hit] = abuse(seeds)
    assert (hit.check, hit.level, hit.line) == (Check.ABUSE, Level.WARNING, 13)
    assert "asshole" in hit.message and hit.source.startswith("alt-profanity-check")


def test_a_higher_threshold_reports_less() -> None:
    leaf = parse_leaf("compositional_skills/words/qna.yaml", LEAF.encode())
    assert abuse(leaf_texts(leaf), threshold=1.01) == []


RIDDLE = """version: 3
created_by: tester
task_description: Riddles.
seed_examples:
  - question: Tom's mother has 3 sons. The names of the two sons are Dick and Hardy, what's the name of the third son?
    answer: Name of the third son is Tom. The question names the two other sons, Dick and Hardy.
  - question: Who wrote the novel about the white whale?
    answer: Herman Melville wrote Moby Dick.
  - question: What did the reviewer say?
    answer: Shut up, you Moron.
"""
# Insults addressed to someone, capitalised as a name would be: each is still one.
ADDRESSED = ["The answer, Idiot, is four.", "Listen here, Bitch, the answer is four.", "The answer is four, Dumbass",
             "Learn to count Idiot the answer is four", "Hey you Idiot, the answer is four."]  # fmt: skip


def test_a_name_that_is_also_a_slur_is_a_name_and_an_insult_in_capitals_is_still_one() -> None:
    leaf = parse_leaf("compositional_skills/riddles/qna.yaml", RIDDLE.encode())
    seeds = [t for t in leaf_texts(leaf) if t.origin in (Origin.QUESTION, Origin.ANSWER)]
    [hit] = abuse(seeds)
    assert hit.line == 10 and "Shut up, you Moron." in hit.message


@pytest.mark.parametrize("answer", ADDRESSED)
def test_an_insult_capitalised_alone_is_not_taken_for_a_name(answer: str) -> None:
    text = RIDDLE.replace("Shut up, you Moron.", answer)
    leaf = parse_leaf("compositional_skills/riddles/qna.yaml", text.encode())
    [hit] = abuse([t for t in leaf_texts(leaf) if t.origin in (Origin.QUESTION, Origin.ANSWER)])
    insult = next(word.strip(",.") for word in answer.split() if word.strip(",.") in ("Idiot", "Bitch", "Dumbass"))
    assert hit.line == 10 and insult in hit.message
