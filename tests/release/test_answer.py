"""Answering and grading through an OpenAI-compatible endpoint, against the scripted server."""

from __future__ import annotations

import json

from bot.generation.teacher import Endpoint
from bot.release.answer import EndpointAnswerer, TeacherJudge
from bot.release.gate import GateQuestion
from tests.fakes.openai_server import FakeOpenAI


def endpoint(server: FakeOpenAI, model: str) -> Endpoint:
    return Endpoint(server.base_url, model, retries=1, backoff_s=0.01, timeout_s=5)


def test_a_served_student_answers_each_prompt_greedily(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: f"{request['model']} says: {request['messages'][-1]['content']}"
    answers = EndpointAnswerer(endpoint(teacher_server, "candidate")).answer(["one?", "two?"])
    assert answers == ["candidate says: one?", "candidate says: two?"]
    assert {r["temperature"] for r in teacher_server.chat_requests} == {0.0}


def test_the_teacher_grades_answers_against_the_references(teacher_server: FakeOpenAI) -> None:
    def grade(request: dict) -> str:
        items = json.loads(request["messages"][1]["content"])["items"]
        scores = [{"index": i["index"], "score": 3 if i["answer"] == i["reference"] else 1} for i in items]
        return json.dumps({"scores": scores})

    teacher_server.script = grade
    questions = [GateQuestion("changed", "leaf", f"q{i}", f"a{i}") for i in range(12)]
    answers = [f"a{i}" if i % 2 else "wrong" for i in range(12)]
    judge = TeacherJudge(endpoint(teacher_server, "teacher"))
    assert judge.grade(questions, answers) == [1, 3] * 6
    assert len(teacher_server.chat_requests) == 2  # batches of ten
    system = teacher_server.chat_requests[0]["messages"][0]["content"]
    assert system.startswith("taxbot:grade")


def test_a_batch_the_teacher_cannot_grade_stays_ungraded_and_is_counted(teacher_server: FakeOpenAI) -> None:
    teacher_server.script = lambda request: "no JSON here"
    judge = TeacherJudge(endpoint(teacher_server, "teacher"))
    questions = [GateQuestion("general", "general/x", "q", "a")] * 3
    assert judge.grade(questions, ["a", "b", "c"]) == [None, None, None]
    assert judge.failed_batches == 1
