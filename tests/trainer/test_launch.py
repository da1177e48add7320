"""Two ranks on CPU (torchrun, gloo): the steps and samples per step of one, one journal writer, 143 on a signal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import subprocess_env, terminated_at
from tests.fakes.phase_sets import knowledge_records, skill_records, write_jsonl
from tests.fakes.tiny_model import build_tiny_model
from trainer.cli import EXIT_OK, EXIT_STOPPED
from trainer.config import load_config
from trainer.launch import STOP_GRACE_S, train_command
from trainer.plan import METADATA_FILE
from trainer.run import run_training

TINY_CPU = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "tiny_cpu.yaml"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    root = tmp_path_factory.mktemp("inputs")
    model = build_tiny_model(root / "model")
    knowledge = write_jsonl(root / "knowledge.jsonl", knowledge_records(60, max_words=200))
    skills = write_jsonl(root / "skills.jsonl", skill_records(90, max_words=200))
    return [f"model.name_or_path={model}", f"data.phase1={knowledge}", f"data.phase2={skills}"]


def _metadata(run_dir: Path, phase: str) -> dict:
    return json.loads((run_dir / phase / "final" / METADATA_FILE).read_text(encoding="utf-8"))


def test_several_processes_run_under_torchrun_with_every_stop_signal_passed_on(tmp_path: Path) -> None:
    command = train_command(tmp_path / "c.yaml", ["phase1.epochs=2"], processes=4)
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc-per-node=4" in command and "--standalone" in command
    assert "--signals-to-handle=SIGTERM,SIGINT,SIGUSR1,SIGHUP,SIGQUIT" in command
    assert f"--shutdown-timeout={STOP_GRACE_S}" in command
    assert command[-6:] == ["-m", "trainer", "train", "--config", str(tmp_path / "c.yaml"), "phase1.epochs=2"]
    assert train_command(tmp_path / "c.yaml", [], processes=1)[:4] == [sys.executable, "-m", "trainer", "train"]


@pytest.mark.slow
def test_two_ranks_take_the_steps_of_one_stop_with_143_on_a_signal_and_resume(
    inputs: list[str], tmp_path: Path
) -> None:
    # Effective batches that one rank reaches with 2 packs a step and two ranks with 1 pack each; epochs, not
    # max_steps, so the number of steps comes from the data. A LAB-sized warmup (25) on 14- and 7-step phases.
    settings = [
        *inputs,
        "phase1.max_steps=-1", "phase2.max_steps=-1", "phase1.epochs=2", "phase2.epochs=1",
        "phase1.effective_batch=9", "phase2.effective_batch=15", "phase1.min_steps_per_epoch=1",
        "phase2.min_steps_per_epoch=1", "phase1.warmup_steps=25", "phase2.warmup_steps=25",
    ]  # fmt: skip
    one = run_training(load_config(TINY_CPU, [*settings, f"run.output_dir={tmp_path / 'one'}"]), interactive=False)

    argv = ["train", "--processes", "2", "--config", str(TINY_CPU), *settings, f"run.output_dir={tmp_path / 'two'}"]
    command = [sys.executable, "-m", "trainer", *argv]
    code, log = terminated_at(command, "phase1 step 5/", timeout=300)
    assert code == EXIT_STOPPED, log
    run_dir = tmp_path / "two" / "tiny"
    journal = json.loads((run_dir / "journal.json").read_text(encoding="utf-8"))
    assert journal["phases"]["phase1"]["status"] == "stopped", journal
    stopped_at = journal["phases"]["phase1"]["checkpoint"]
    assert Path(stopped_at, "taxbot_complete.json").is_file()

    rerun = subprocess.run(command, capture_output=True, text=True, env=subprocess_env(), timeout=600)
    assert rerun.returncode == EXIT_OK, rerun.stderr
    assert f"resuming from {stopped_at}" in rerun.stderr
    journal = json.loads((run_dir / "journal.json").read_text(encoding="utf-8"))
    assert [entry["status"] for entry in journal["phases"].values()] == ["done", "done"]
    for phase, learning_rate in (("phase1", "3.00e-03"), ("phase2", "2.00e-03")):
        single, double = _metadata(one.run_dir, phase), _metadata(run_dir, phase)
        assert single["batch"]["world_size"] == 1 and double["batch"]["world_size"] == 2
        assert double["batch"]["gradient_accumulation_steps"] * 2 == single["batch"]["gradient_accumulation_steps"]
        assert double["steps"] == single["steps"] >= 7
        assert double["batch"]["samples_per_step"] == single["batch"]["samples_per_step"]
        assert [step for step, _ in double["loss_curve"]] == list(range(1, double["steps"] + 1))
        assert double["final_loss"] == pytest.approx(single["final_loss"], rel=0.03)
        assert double["final_loss"] < double["loss_curve"][0][1] - 0.1
        assert f"{phase} step 3/{double['steps']} loss" in rerun.stderr + log
        assert f"lr {learning_rate}" in rerun.stderr + log, "a small phase reaches its learning rate"
        assert not list((run_dir / phase).glob("checkpoint-*")), "a finished phase's checkpoints are removed"
    assert rerun.stderr.count("phase2 step 3/") == 1, "rank 0 alone prints progress"


@pytest.mark.slow
def test_the_journal_stays_intact_over_repeated_two_rank_runs(inputs: list[str], tmp_path: Path) -> None:
    runs = 4
    reports = tmp_path / "reports"
    reports.mkdir()
    overrides = [*inputs, f"run.output_dir={tmp_path / 'runs'}", "phase1.max_steps=2", "phase2.max_steps=2"]
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
        "-m", "tests.fakes.repeated_runs", str(TINY_CPU), str(runs), str(reports), *overrides,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=subprocess_env(), timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    rank0, rank1 = (json.loads((reports / f"rank-{r}.json").read_text(encoding="utf-8")) for r in (0, 1))
    assert rank0 == rank1, "both ranks read the same journal after every run"
    assert len(rank0) == runs
    for index, seen in enumerate(rank0):
        assert seen["finished"]
        assert {name: entry["status"] for name, entry in seen["journal"]["phases"].items()} == {
            "phase1": "done",
            "phase2": "done",
        }
        run_dir = tmp_path / "runs" / f"run-{index}"
        assert not list(run_dir.glob("*.tmp")) and not list(run_dir.glob(".*.tmp"))
        for phase in ("phase1", "phase2"):
            assert _metadata(run_dir, phase)["batch"]["world_size"] == 2, "world size right from the first phase"
