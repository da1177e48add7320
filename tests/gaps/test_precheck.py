"""The precheck: a student model asked a change's seed questions, its replies judged against the seed answers."""

from __future__ import annotations

import asyncio

import yaml

from bot.gaps.precheck import answer_score, ask_student, prompt
from bot.generation.teacher import Endpoint, ModelClient
from bot.taxonomy.tree import Leaf, parse_leaf

FACTS = [
    ("Which planet is closest to the sun?", "Mercury is the planet closest to the sun."),
    ("What gas do plants take in for photosynthesis?", "Plants take in carbon dioxide."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What is the capital of Australia?", "The capital of Australia is Canberra."),
    ("Who wrote the novel Middlemarch?", "George Eliot wrote Middlemarch."),
]
KNOWS = {
    "Which planet is closest to the sun?": "The closest planet to the Sun is Mercury.",
    "What gas do plants take in for photosynthesis?": "They absorb carbon dioxide (CO2) from the air.",
    "How many legs does a spider have?": "Spiders have eight legs.",
    "What is the capital of Australia?": "Canberra is the capital.",
    "Who wrote the novel Middlemarch?": "Middlemarch was written by Charles Dickens.",
}


def leaf(path: str, pairs: list[tuple[str, str]], context: str | None = None) -> Leaf:
    seeds = [{"question": q, "answer": a} | ({"context": context} if context else {}) for q, a in pairs]
    text = yaml.safe_dump({"version": 3, "task_description": "t", "created_by": "x", "seed_examples": seeds})
    return parse_leaf(path, text.encode())


def student(server, retries: int = 0) -> ModelClient:
    return ModelClient(Endpoint(server.base_url, "student", retries=retries, timeout_s=5, backoff_s=0.01))


def test_only_the_words_an_answer_adds_to_its_question_count() -> None:
    question, expected = FACTS[0]
    assert answer_score(question, expected, "It is Mercury, of course.") == 100
    assert answer_score(question, expected, "Venus is the planet closest to the sun.") == 0
    assert answer_score("What is 2+2?", "4", "The answer is 4.") == 100


def test_grounded_seeds_are_asked_with_their_context() -> None:
    grounded = leaf("compositional_skills/grounded/x/qna.yaml", [("What is the total?", "9.75")], "Total: 9.75")
    [message] = prompt(grounded.seed_examples[0])
    assert message["content"].startswith("Total: 9.75\n\n") and message["content"].endswith("What is the total?")


def test_the_student_already_answers_four_of_five(teacher_server) -> None:
    teacher_server.script = lambda request: KNOWS[request["messages"][-1]["content"]]
    path = "knowledge/facts/qna.yaml"
    [result] = asyncio.run(ask_student(student(teacher_server), [leaf(path, FACTS)], 60))
    assert (result.path, result.asked, result.correct) == (path, 5, 4)
    assert result.verdict() == "the student already answers 4 of 5 like the seed answers"
    assert result.answers[-1].score == 0  # Dickens: none of the words "George Eliot" adds to the question
    assert all(r["temperature"] == 0 for r in teacher_server.chat_requests)


def test_a_student_that_gets_every_answer_wrong_is_a_gap_filled(teacher_server) -> None:
    teacher_server.script = lambda request: "I am not sure, sorry."
    [result] = asyncio.run(ask_student(student(teacher_server), [leaf("knowledge/facts/qna.yaml", FACTS)], 60))
    assert result.verdict() == "the student gets all 5 wrong: this fills a gap"


def test_a_dead_endpoint_is_asked_once_and_said_so(teacher_server) -> None:
    teacher_server.fail(500, times=None)
    [result] = asyncio.run(ask_student(student(teacher_server), [leaf("knowledge/facts/qna.yaml", FACTS)], 60))
    assert len(teacher_server.chat_requests) == 1
    assert result.asked == 0
    assert result.verdict() == "the student gave no answer (no answer after 1 tries: HTTP 500)"


def test_questions_the_endpoint_drops_are_counted_apart(teacher_server) -> None:
    teacher_server.script = lambda request: KNOWS[request["messages"][-1]["content"]]
    teacher_server.fail(503, times=2, when=lambda body: "spider" in body["messages"][-1]["content"])
    [result] = asyncio.run(
        ask_student(student(teacher_server, retries=1), [leaf("knowledge/facts/qna.yaml", FACTS)], 60)
    )
    assert (result.asked, result.correct) == (4, 3)
    assert result.verdict().endswith("; 1 question(s) got no answer from the endpoint")
