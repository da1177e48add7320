"""Scripted stand-ins for the gate's models and judge: answers and ratings looked up by question."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.release.gate import GateQuestion


@dataclass
class ScriptedAnswerer:
    """Answers each prompt with `script(prompt)`; records every prompt it was asked."""

    script: Callable[[str], str]
    asked: list[str] = field(default_factory=list)

    def answer(self, prompts: Sequence[str]) -> list[str]:
        self.asked += prompts
        return [self.script(prompt) for prompt in prompts]


@dataclass
class ScriptedJudge:
    """Rates an answer 1-10 with `script(question, answer)`; one request per answer, as the endpoint judge."""

    script: Callable[[GateQuestion, str], int | None]
    name: str = "scripted-judge"
    requests: int = 0

    def grade(self, questions: Sequence[GateQuestion], answers: Sequence[str]) -> list[int | None]:
        self.requests += len(questions)
        return [self.script(q, a) for q, a in zip(questions, answers, strict=True)]
