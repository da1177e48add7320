"""Training runs on a tiny model: loss falls in both phases, SIGTERM resumes exactly, the journal skips."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="needs the `train` extra")
pytest.importorskip("transformers", reason="needs the `train` extra")

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from tests.conftest import subprocess_env
from tests.fakes.phase_sets import knowledge_records, skill_records, write_jsonl
from tests.fakes.tiny_model import build_tiny_model
from trainer.config import TrainConfig, load_config
from trainer.curves import CURVES_JSON, CURVES_PNG
from trainer.errors import JournalError
from trainer.plan import METADATA_FILE
from trainer.run import RunOutcome, run_training

TINY_CPU = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "tiny_cpu.yaml"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("inputs")
    return {
        "model": build_tiny_model(root / "model"),
        "knowledge": write_jsonl(root / "knowledge.jsonl", knowledge_records(60, max_words=200)),
        "skills": write_jsonl(root / "skills.jsonl", skill_records(90, max_words=200)),
    }


def _config(inputs: dict[str, Path], output_dir: Path, *overrides: str) -> TrainConfig:
    return load_config(
        TINY_CPU,
        [
            f"model.name_or_path={inputs['model']}",
            f"data.phase1={inputs['knowledge']}",
            f"data.phase2={inputs['skills']}",
            f"run.output_dir={output_dir}",
            *overrides,
        ],
    )


def _metadata(run_dir: Path, phase: str) -> dict:
    return json.loads((run_dir / phase / "final" / METADATA_FILE).read_text(encoding="utf-8"))


def _weights(final_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(final_dir / "model.safetensors"))


@pytest.fixture(scope="module")
def two_phase_run(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    return run_training(_config(inputs, tmp_path_factory.mktemp("runs")), interactive=False)


def _falls(curve: list[dict]) -> bool:
    losses = [point["loss"] for point in curve]
    return sum(losses[-3:]) / 3 < losses[0] - 0.1


def test_both_phases_train_and_loss_falls(two_phase_run: RunOutcome) -> None:
    assert two_phase_run.finished
    curves = json.loads((two_phase_run.run_dir / CURVES_JSON).read_text(encoding="utf-8"))
    assert list(curves) == ["phase1", "phase2"]
    assert [point["step"] for point in curves["phase1"]] == list(range(1, 13))
    assert _falls(curves["phase1"]) and _falls(curves["phase2"]), curves
    assert (two_phase_run.run_dir / CURVES_PNG).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_phase2_starts_from_phase1_and_records_what_it_inherited(two_phase_run: RunOutcome) -> None:
    phase1, phase2 = _metadata(two_phase_run.run_dir, "phase1"), _metadata(two_phase_run.run_dir, "phase2")
    assert phase2["start_model"] == str(two_phase_run.run_dir / "phase1" / "final")
    assert phase2["inherited"]["fingerprint"] == phase1["fingerprint"]
    assert phase2["inherited"]["final_loss"] == phase1["final_loss"]
    assert phase2["inherited"]["settings"]["learning_rate"] == 3e-3
    assert phase2["data"]["replayed_records"] == 12, "20% of the 60 knowledge records are replayed"
    assert two_phase_run.final_dir == two_phase_run.run_dir / "phase2" / "final"


def test_the_final_model_fits_its_training_data_better_than_the_base(
    two_phase_run: RunOutcome, inputs: dict[str, Path]
) -> None:
    from transformers import AutoTokenizer

    from trainer.data import build_samples, read_records
    from trainer.packing import collate_packs, pack_samples

    tokenizer = AutoTokenizer.from_pretrained(inputs["model"])
    samples = build_samples(read_records(inputs["skills"]), tokenizer, 256).samples
    batch = collate_packs(pack_samples(samples, 1 << 16))

    def loss(model_dir: Path) -> float:
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        assert model.config.use_cache, "the saved model generates with a KV cache"
        with torch.no_grad():
            return model(**batch, use_cache=False).loss.item()

    assert loss(two_phase_run.final_dir) < loss(inputs["model"]) - 0.2


def test_a_rerun_skips_finished_phases(
    two_phase_run: RunOutcome, inputs: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    final_weights = two_phase_run.final_dir / "model.safetensors"
    written = final_weights.stat().st_mtime_ns
    caplog.set_level(logging.INFO, logger="taxbot.trainer")
    again = run_training(_config(inputs, two_phase_run.run_dir.parent), interactive=False)
    assert again.finished and again.final_dir == two_phase_run.final_dir
    assert "phase1: already done" in caplog.text and "phase2: already done" in caplog.text
    assert "step 1/" not in caplog.text
    assert final_weights.stat().st_mtime_ns == written


def test_a_finished_phase_with_other_settings_is_refused(two_phase_run: RunOutcome, inputs: dict[str, Path]) -> None:
    changed = _config(inputs, two_phase_run.run_dir.parent, "phase1.learning_rate=1e-3")
    with pytest.raises(JournalError, match="phase1 of taxonomy commit tiny was done with other settings"):
        run_training(changed, interactive=False)


class _SigtermWhenLogged(logging.Handler):
    """Sends this process a real SIGTERM once a given progress line is printed, as an operator would."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.sent = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.sent and self.text in record.getMessage():
            self.sent = True
            os.kill(os.getpid(), signal.SIGTERM)


PHASE1_ONLY = ("run.stop_after=phase1", "run.save_steps=100")


@pytest.fixture(scope="module")
def straight(inputs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> RunOutcome:
    """Phase 1 trained without interruption, to compare interrupted runs with."""
    return run_training(_config(inputs, tmp_path_factory.mktemp("straight"), *PHASE1_ONLY), interactive=False)


def _same_weights(expected_dir: Path, got_dir: Path) -> None:
    expected, got = _weights(expected_dir), _weights(got_dir)
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], atol=1e-6, rtol=1e-5)


def test_sigterm_saves_a_checkpoint_and_a_rerun_resumes_to_the_same_model(
    inputs: dict[str, Path], straight: RunOutcome, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="taxbot.trainer")
    phase1_only = PHASE1_ONLY

    interrupted_config = _config(inputs, tmp_path / "interrupted", *phase1_only)
    killer = _SigtermWhenLogged("phase1 step 5/12")
    logging.getLogger("taxbot.trainer").addHandler(killer)
    try:
        stopped = run_training(interrupted_config, interactive=False)
    finally:
        logging.getLogger("taxbot.trainer").removeHandler(killer)
    assert killer.sent and not stopped.finished
    assert stopped.checkpoint is not None and stopped.checkpoint.endswith("checkpoint-6")
    assert not (stopped.run_dir / "phase1" / "final").exists()
    journal = json.loads((stopped.run_dir / "journal.json").read_text(encoding="utf-8"))
    assert journal["phases"]["phase1"]["status"] == "stopped"
    assert journal["phases"]["phase1"]["checkpoint"] == stopped.checkpoint

    resumed = run_training(interrupted_config, interactive=False)
    assert resumed.finished
    assert "resuming from" in caplog.text and "checkpoint-6" in caplog.text
    _same_weights(straight.final_dir, resumed.final_dir)
    straight_curve = _metadata(straight.run_dir, "phase1")["loss_curve"]
    resumed_curve = _metadata(resumed.run_dir, "phase1")["loss_curve"]
    assert [step for step, _ in resumed_curve] == list(range(1, 13)), "the curve spans the interruption"
    assert [loss for _, loss in resumed_curve] == pytest.approx([loss for _, loss in straight_curve], abs=1e-5)


# SIGKILL halfway through writing checkpoint-8's optimiser state, as an out-of-memory kill or a lost node would.
_DIES_WHILE_SAVING = """
import os, signal, sys
from transformers import Trainer
save = Trainer._save_optimizer_and_scheduler
def dying(self, output_dir):
    if output_dir.endswith("checkpoint-8"):
        with open(os.path.join(output_dir, "optimizer.pt"), "wb") as handle:
            handle.write(b"half an optimiser")
        os.kill(os.getpid(), signal.SIGKILL)
    save(self, output_dir)
Trainer._save_optimizer_and_scheduler = dying
from trainer.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.slow
def test_a_kill_during_a_save_leaves_the_previous_checkpoint_and_a_rerun_resumes_from_it(
    inputs: dict[str, Path], straight: RunOutcome, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    overrides = [
        f"model.name_or_path={inputs['model']}",
        f"data.phase1={inputs['knowledge']}",
        f"run.output_dir={tmp_path}",
        "run.stop_after=phase1",
        "run.save_steps=4",
        "run.save_total_limit=1",  # even so, checkpoint-4 is deleted only once checkpoint-8 is complete
    ]
    command = [sys.executable, "-c", _DIES_WHILE_SAVING, "train", "--config", str(TINY_CPU), *overrides]
    killed = subprocess.run(command, capture_output=True, text=True, env=subprocess_env(), timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    phase_dir = tmp_path / "tiny" / "phase1"
    assert sorted(path.name for path in phase_dir.glob("checkpoint-*")) == ["checkpoint-4", "checkpoint-8"]

    caplog.set_level(logging.INFO, logger="taxbot.trainer")
    resumed = run_training(load_config(TINY_CPU, overrides), interactive=False)
    assert resumed.finished
    assert f"{phase_dir / 'checkpoint-8'} was cut short while being saved; deleted it" in caplog.text
    assert f"resuming from {phase_dir / 'checkpoint-4'}" in caplog.text
    _same_weights(straight.final_dir, resumed.final_dir)
    assert not list(phase_dir.glob("checkpoint-*")), "the finished phase's checkpoints are removed"


def test_stacked_mode_is_one_phase_over_both_sets(inputs: dict[str, Path], tmp_path: Path) -> None:
    outcome = run_training(_config(inputs, tmp_path, "run.mode=stacked", "stacked.max_steps=4"), interactive=False)
    metadata = _metadata(outcome.run_dir, "stacked")
    assert outcome.final_dir == outcome.run_dir / "stacked" / "final"
    assert metadata["data"]["sets"] == [str(inputs["knowledge"]), str(inputs["skills"])]
    assert metadata["data"]["samples"] + metadata["data"]["dropped_too_long"] == 60 + 90
    assert metadata["inherited"] is None and metadata["steps"] == 4


def test_stacked_mode_trains_a_taxonomy_of_skills_only(inputs: dict[str, Path], tmp_path: Path) -> None:
    """A release of skills only has an empty knowledge set: the stacked phase trains on the skills alone."""
    empty = write_jsonl(tmp_path / "knowledge.jsonl", [])
    config = _config({**inputs, "knowledge": empty}, tmp_path, "run.mode=stacked", "stacked.max_steps=2")
    outcome = run_training(config, interactive=False)
    assert outcome.finished
    assert _metadata(outcome.run_dir, "stacked")["data"]["samples"] > 0


def test_lora_phase_saves_a_merged_full_model(inputs: dict[str, Path], tmp_path: Path) -> None:
    config = _config(
        inputs,
        tmp_path,
        "run.stop_after=phase1",
        "model.finetune=lora",
        "phase1.max_steps=6",
        "phase1.learning_rate=1e-2",
        "model.lora.target_modules=[q_proj, v_proj]",
    )
    outcome = run_training(config, interactive=False)
    final_dir = outcome.run_dir / "phase1" / "final"
    assert not (final_dir / "adapter_config.json").exists()
    base, tuned = _weights(inputs["model"]), _weights(final_dir)
    assert base.keys() == tuned.keys(), "a plain model, loadable without peft"
    changed = {name for name in base if not torch.equal(base[name], tuned[name])}
    assert changed and all("q_proj" in name or "v_proj" in name for name in changed)


def test_a_full_fine_tune_on_several_gpus_is_sharded_with_fsdp2_full_shard() -> None:
    from accelerate.utils import FullyShardedDataParallelPlugin
    from transformers import TrainingArguments

    from trainer.config import parse_config
    from trainer.train import sharding

    config = parse_config({"model": {"activation_checkpointing": True}}, [])
    settings = sharding(config, world_size=8, cpu=False)
    # No GPU here: what can be checked is that the Trainer and accelerate take these settings as FSDP2 full shard.
    args = TrainingArguments(output_dir="unused", use_cpu=True, report_to="none", **settings)
    plugin = FullyShardedDataParallelPlugin(**args.fsdp_plugin_args)
    assert (plugin.fsdp_version, plugin.reshard_after_forward, plugin.activation_checkpointing) == (2, True, True)
    assert plugin.state_dict_type.name == "FULL_STATE_DICT", "the final model is one ordinary file"
    assert plugin.auto_wrap_policy is not None, "one FSDP unit per decoder layer"

    lora = parse_config({"model": {"finetune": "lora"}}, [])
    assert sharding(config, world_size=1, cpu=False) == sharding(lora, world_size=8, cpu=False) == {}
    assert sharding(config, world_size=8, cpu=True) == {}, "accelerate shards on GPUs only"
    assert sharding(parse_config({"distributed": {"fsdp": "none"}}, []), world_size=8, cpu=False) == {}
