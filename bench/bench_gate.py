"""Benchmark: the release gate's wall time per question for the base and the candidate, and its judge requests.

Run by hand:  python bench/bench_gate.py [--max-new-tokens 64] [--candidate FOLDER] [--scripted-judge]

Both models are SmolLM2-135M-Instruct (from the GGUF the tests use), answering with transformers on this
machine, unless `--candidate` names a trained folder. The judge is the same model behind llama.cpp's
OpenAI-compatible server, rating one answer per request (`--scripted-judge`: a scripted server instead, to
count requests without model time). The questions are taxbot's shipped general and safety sets and the seeds
of one skill and one knowledge leaf (with its multiple-choice questions).

Baseline, measured in the same run: the lexical gate (no judge) on the same answers. It prints the gate's wall
time with the judge against it, and judge requests per rated answer (goal: 1, plus retries).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.generation.teacher import Endpoint
from bot.release.answer import EndpointJudge
from bot.release.gate import CHANGED, GateSettings, gate_questions, parse_general_set, parse_safety_set, run_gate
from bot.taxonomy.tree import parse_leaf
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.real_models import llama_server, require_smollm2, save_smollm2
from tests.leaves import freeform_skill, knowledge
from trainer.answer import LocalAnswerer


@dataclass
class Timed:
    """An answerer that remembers how long its answers took."""

    inner: LocalAnswerer
    seconds: list[float] = field(default_factory=list)

    def answer(self, prompts: Sequence[str]) -> list[str]:
        started = time.monotonic()
        answers = self.inner.answer(prompts)
        self.seconds.append(time.monotonic() - started)
        return answers


@dataclass
class Replay:
    """Answers recorded in the first run, so the baseline gate times scoring alone."""

    answers: list[str]

    def answer(self, prompts: Sequence[str]) -> list[str]:
        return self.answers


@contextlib.contextmanager
def judge_endpoint(scripted: bool, gguf: Path) -> Iterator[Endpoint]:
    if scripted:
        with FakeOpenAI(lambda request: "Looks right. Rating: [[7]]") as server:
            yield Endpoint(server.base_url, "scripted", retries=1, backoff_s=0.01)
        return
    with llama_server(gguf) as url:
        yield Endpoint(url, "smollm2", concurrency=2, retries=1, backoff_s=0.1, timeout_s=300)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--candidate", type=Path, help="a trained model folder; default: the base model again")
    parser.add_argument("--scripted-judge", action="store_true")
    args = parser.parse_args()

    data = files("bot") / "data"
    general = parse_general_set((data / "general_qa.jsonl").read_text(encoding="utf-8"), "general")
    safety = parse_safety_set((data / "safety_qa.jsonl").read_text(encoding="utf-8"), "safety")
    leaves = [parse_leaf("compositional_skills/arithmetic/addition/qna.yaml", freeform_skill().encode()),
              parse_leaf("knowledge/geography/lakes/qna.yaml", knowledge().encode())]  # fmt: skip
    questions = gate_questions(leaves, [], general, 0, safety)
    choice = sum(bool(q.choices) for q in questions)
    print(f"{len(questions)} questions ({choice} multiple choice, {len(safety)} safety), "
          f"max_new_tokens={args.max_new_tokens}")  # fmt: skip

    gguf = require_smollm2()
    with tempfile.TemporaryDirectory() as scratch:
        base = save_smollm2(gguf, Path(scratch) / "smollm2")
        previous = Timed(LocalAnswerer(str(base), max_new_tokens=args.max_new_tokens))
        candidate = Timed(LocalAnswerer(str(args.candidate or base), max_new_tokens=args.max_new_tokens))
        with judge_endpoint(args.scripted_judge, gguf) as endpoint:
            judge = EndpointJudge(endpoint)
            started = time.monotonic()
            report = run_gate(questions, previous, candidate, GateSettings(), judge, progress=print)
            judged_s = time.monotonic() - started
        answers = {s.question.prompt: (s.previous_answer, s.candidate_answer) for s in report.scored}
        started = time.monotonic()
        run_gate(questions, Replay([answers[q.prompt][0] for q in questions]),
                 Replay([answers[q.prompt][1] for q in questions]), GateSettings())  # fmt: skip
        lexical_s = time.monotonic() - started

    rated = 2 * (len(questions) - choice)
    judge_s = judged_s - previous.seconds[0] - candidate.seconds[0]
    print(f"base:      {previous.seconds[0]:7.1f} s, {previous.seconds[0] / len(questions):.3f} s per question")
    print(f"candidate: {candidate.seconds[0]:7.1f} s, {candidate.seconds[0] / len(questions):.3f} s per question")
    print(f"judge:     {judge_s:7.1f} s for {rated} answers, {judge.requests} requests "
          f"({judge.requests / rated:.2f} per answer, goal 1), {judge.unrated} unrated")  # fmt: skip
    print(f"gate with the judge {judged_s:.1f} s; baseline, the lexical gate on the same answers: "
          f"{lexical_s:.3f} s + the same {previous.seconds[0] + candidate.seconds[0]:.1f} s of answering "
          f"-> {judged_s / (lexical_s + previous.seconds[0] + candidate.seconds[0]):.2f}x")  # fmt: skip
    print("verdict:", "passed" if report.passed else "failed", [c.name for c in report.checks if not c.passed])
    print(f"changed leaves: {[g for g in report.groups if g.name == CHANGED]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
