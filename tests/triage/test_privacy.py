"""Personal data and secrets: found where the contributor wrote them, quieter where a source is quoted."""

from __future__ import annotations

import pytest

from bot.taxonomy.tree import parse_leaf
from bot.triage.hits import Check, Level
from bot.triage.privacy import personal_data, secrets
from bot.triage.texts import leaf_texts

GROUNDED = """version: 3
created_by: tester
task_description: Answer from the note.
seed_examples:
  - context: The shop at 4821 Maple Street takes orders on (415) 382-1947.
    question: Where is the shop?
    answer: The shop is at 4821 Maple Street.
  - context: The shop at 4821 Maple Street takes orders on (415) 382-1947.
    question: Who should I write to?
    answer: Write to maria.garcia17@gmail.com, she answers within a day.
  - context: The shop at 4821 Maple Street takes orders on (415) 382-1947.
    question: Reverse the digits of 6735725342.
    answer: The reversed number is 2435275376.
  - context: The shop at 4821 Maple Street takes orders on (415) 382-1947.
    question: What key does the script use?
    answer: |
      It reads the token from the config:
      token = ghp_16C7e42F292c6912E7710c838347Ae178B4a
"""


def test_contributors_own_values_warn_quoted_ones_are_notes_and_digit_runs_are_not_phones() -> None:
    leaf = parse_leaf("compositional_skills/shop/qna.yaml", GROUNDED.encode())
    hits = {h.message.split("`")[0].strip(): h for h in personal_data(leaf_texts(leaf))}
    email = hits["an e-mail address"]
    assert (email.level, email.line) == (Level.WARNING, 10)
    assert "gmail" not in email.message and "`mar…com`" in email.message  # masked, never repeated whole
    assert hits["a postal address"].level is Level.NOTE and "text from a source" in hits["a postal address"].message
    assert hits["a phone number"].level is Level.NOTE
    assert len([h for h in hits.values() if h.message.startswith("a phone number")]) == 1  # the digit runs are not


def test_a_token_is_found_on_its_own_line_masked_and_a_document_commit_is_not_a_secret() -> None:
    leaf = parse_leaf("compositional_skills/shop/qna.yaml", GROUNDED.encode())
    [hit] = secrets(leaf_texts(leaf))
    assert (hit.check, hit.level, hit.line) == (Check.SECRET, Level.WARNING, 18)
    assert "github token" in hit.message and "16C7e42F292c" not in hit.message
    knowledge = parse_leaf("knowledge/x/qna.yaml", b"""version: 3
domain: d
document:
  repo: https://github.com/juliadenham/Summit_knowledge
  commit: 5f7158a5ce83c4ff493bfe341fe31ecad64ff697
seed_examples:
  - context: The summit is 4,421 m high; the 2017 survey (ref 5f7158a5ce83c4ff493bfe341fe31ecad64ff697) says so.
    questions_and_answers:
      - question: How high is the summit?
        answer: 4,421 m, by the 2017 survey.
""")
    assert secrets(leaf_texts(knowledge)) == [] and personal_data(leaf_texts(knowledge)) == []


TABLE = """version: 3
created_by: tester
task_description: Tables.
seed_examples:
  - question: |
      Add an Email column: the first initial, the last name, then @ and the company with .com.
      | First Initial | Last Name | Company |
      | a             | smith     | xyz     |
      | b             | jones     | abc     |
    answer: |
      | First Initial | Last Name | Company | Email          |
      | a             | smith     | xyz     | asmith@xyz.com |
      | b             | jones     | abc     | bjones@abc.com |
      Questions go to priya.chen44@outlook.com.
"""


def test_an_address_the_answer_builds_from_the_questions_table_is_a_note_and_a_new_one_warns() -> None:
    leaf = parse_leaf("compositional_skills/tables/qna.yaml", TABLE.encode())
    found = {h.message.split("`")[1]: h for h in personal_data(leaf_texts(leaf))}
    assert found["asm…com"].level is Level.NOTE and "made up from the question" in found["asm…com"].message
    assert found["bjo…com"].level is Level.NOTE
    assert (found["pri…com"].level, found["pri…com"].line) == (Level.WARNING, 14)


@pytest.mark.parametrize(("question", "answer", "level"), [
    ("How can I contact Jane Doe at Acme?", "Write to jane.doe@acme.com.", Level.WARNING),
    ("What is John Smith's Gmail address?", "It is johnsmith@gmail.com.", Level.WARNING),
    ("Format the digits 4153821947 as a US phone number.", "It is (415) 382-1947.", Level.WARNING),
    ("Give an example address for a form.", "Use jane.doe@example.com as a placeholder.", Level.NOTE),
])  # fmt: skip
def test_an_answer_that_only_names_whose_address_it_is_still_warns(question: str, answer: str, level: Level) -> None:
    text = (f"version: 3\ncreated_by: t\ntask_description: t\nseed_examples:\n  - question: {question}\n"
            f"    answer: {answer}\n")  # fmt: skip
    leaf = parse_leaf("compositional_skills/contacts/qna.yaml", text.encode())
    [hit] = [h for h in personal_data(leaf_texts(leaf)) if h.line == 6]
    assert hit.level is level
