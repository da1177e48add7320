"""Gate answerers and the judge behind an OpenAI-compatible endpoint (a served student, the teacher)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.generation.prompts import grade_prompt, read_scores
from bot.generation.teacher import Endpoint, EndpointError, ModelClient, ReplyFormatError
from bot.release.gate import GateQuestion

GRADE_BATCH = 10


@dataclass(frozen=True)
class EndpointAnswerer:
    """Greedy answers from a model served behind an OpenAI-compatible endpoint (vLLM, llama.cpp, ...)."""

    endpoint: Endpoint

    def answer(self, prompts: Sequence[str]) -> list[str]:
        return asyncio.run(self._answer_all(prompts))

    async def _answer_all(self, prompts: Sequence[str]) -> list[str]:
        # No reply cache: a candidate is often served under the same name release after release.
        client = ModelClient(replace(self.endpoint, temperature=0.0))
        replies = [client.chat([{"role": "user", "content": prompt}]) for prompt in prompts]
        return list(await asyncio.gather(*replies))


@dataclass
class TeacherJudge:
    """The teacher grades answers against the seeds' answers; a batch it cannot grade stays ungraded."""

    endpoint: Endpoint
    failed_batches: int = 0

    def grade(self, questions: Sequence[GateQuestion], answers: Sequence[str]) -> list[int | None]:
        return asyncio.run(self._grade_all(questions, answers))

    async def _grade_all(self, questions: Sequence[GateQuestion], answers: Sequence[str]) -> list[int | None]:
        client = ModelClient(replace(self.endpoint, temperature=0.0))
        batches = []
        for start in range(0, len(questions), GRADE_BATCH):
            pairs = zip(questions[start : start + GRADE_BATCH], answers[start : start + GRADE_BATCH], strict=True)
            batches.append([(q.prompt, q.reference, a) for q, a in pairs])
        graded = await asyncio.gather(*(self._grade_batch(client, batch) for batch in batches))
        return [grade for batch in graded for grade in batch]

    async def _grade_batch(self, client: ModelClient, batch: list[tuple[str, str, str]]) -> list[int | None]:
        try:
            scores = await client.chat_json(grade_prompt(batch), lambda reply: read_scores(reply, len(batch)))
        except (EndpointError, ReplyFormatError):
            self.failed_batches += 1
            return [None] * len(batch)
        return [scores.get(i) for i in range(len(batch))]
