"""`taxbot train` as a user meets it: exit codes, error messages, and a real SIGTERM from outside."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="needs the `train` extra")
pytest.importorskip("transformers", reason="needs the `train` extra")

from tests.conftest import subprocess_env, terminated_at
from tests.fakes.phase_sets import knowledge_records, skill_records, write_jsonl
from tests.fakes.tiny_model import build_tiny_model
from trainer.cli import EXIT_FAILED, EXIT_OK, EXIT_STOPPED, main

TINY_CPU = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "tiny_cpu.yaml"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


def _argv(model_dir: Path, knowledge: Path, skills: Path, output_dir: Path, *extra: str) -> list[str]:
    return [
        "train",
        "--config",
        str(TINY_CPU),
        f"model.name_or_path={model_dir}",
        f"data.phase1={knowledge}",
        f"data.phase2={skills}",
        f"run.output_dir={output_dir}",
        *extra,
    ]


def test_a_run_exits_0_and_names_the_model_to_evaluate(
    model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    knowledge = write_jsonl(tmp_path / "k.jsonl", knowledge_records(20, max_words=100))
    skills = write_jsonl(tmp_path / "s.jsonl", skill_records(20, max_words=100))
    argv = _argv(model_dir, knowledge, skills, tmp_path / "runs", "phase1.max_steps=2", "phase2.max_steps=2")
    assert main(argv) == EXIT_OK
    assert f"done: {tmp_path / 'runs' / 'tiny' / 'phase2' / 'final'}" in caplog.text
    progress = r"phase2 step 2/2 loss \d+\.\d{4} lr \S+ epoch [\d.]+, [\d,]+ tokens/s, 0m00s left"
    assert re.search(progress, caplog.text), "progress: steps, loss, tokens per second, time left"


def test_bad_records_exit_1_with_file_and_line(
    model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    knowledge = write_jsonl(tmp_path / "k.jsonl", knowledge_records(3, max_words=50))
    with knowledge.open("a", encoding="utf-8") as handle:
        handle.write('{"id": "broken", "messages": "not a list"}\n')
    skills = write_jsonl(tmp_path / "s.jsonl", skill_records(3, max_words=50))
    assert main(_argv(model_dir, knowledge, skills, tmp_path / "runs")) == EXIT_FAILED
    assert f"{knowledge}:4: 'messages' must be a non-empty list" in caplog.text
    assert "Traceback" not in caplog.text


def test_a_missing_model_exits_1_naming_it(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    knowledge = write_jsonl(tmp_path / "k.jsonl", knowledge_records(3, max_words=50))
    skills = write_jsonl(tmp_path / "s.jsonl", skill_records(3, max_words=50))
    assert main(_argv(tmp_path / "no-model", knowledge, skills, tmp_path / "runs")) == EXIT_FAILED
    assert f"cannot load the tokenizer of {tmp_path / 'no-model'}" in caplog.text


@pytest.mark.slow
def test_sigterm_from_outside_checkpoints_exits_143_and_the_rerun_resumes(model_dir: Path, tmp_path: Path) -> None:
    knowledge = write_jsonl(tmp_path / "k.jsonl", knowledge_records(60, max_words=200))
    skills = write_jsonl(tmp_path / "s.jsonl", skill_records(20, max_words=200))
    command = [
        sys.executable,
        "-m",
        "trainer",
        *_argv(model_dir, knowledge, skills, tmp_path / "runs", "run.stop_after=phase1", "phase1.max_steps=60"),
    ]
    code, log = terminated_at(command, "phase1 step 3/60", timeout=120)
    assert code == EXIT_STOPPED, log
    assert "stopped by SIGTERM" in log and "Traceback" not in log
    checkpoints = list((tmp_path / "runs" / "tiny" / "phase1").glob("checkpoint-*"))
    assert len(checkpoints) == 1

    rerun = subprocess.run(command, capture_output=True, text=True, env=subprocess_env(), timeout=300)
    assert rerun.returncode == EXIT_OK, rerun.stderr
    assert f"resuming from {checkpoints[0]}" in rerun.stderr
    assert "phase1 step 60/60" in rerun.stderr


def test_processes_must_be_a_count_or_auto(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--processes", "0", "--config", str(TINY_CPU)]) == 2
    assert "must be a number of processes (1 or more) or auto, not '0'" in capsys.readouterr().err
