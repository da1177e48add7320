"""Configs: every shipped YAML validates on a CPU; overrides are typed; mistakes are named, all at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from trainer.cli import EXIT_USAGE, main
from trainer.config import TrainConfig, load_config, parse_config
from trainer.errors import ConfigError
from trainer.plan import fingerprint, plan_phases

CONFIG_DIR = Path(__file__).resolve().parents[2] / "trainer" / "configs"
SHIPPED = sorted(CONFIG_DIR.glob("*.yaml"))


def test_the_four_documented_configs_ship() -> None:
    assert {path.name for path in SHIPPED} >= {"phase1.yaml", "phase2.yaml", "stacked.yaml", "tiny_cpu.yaml"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: path.name)
def test_shipped_config_validates_and_plans(path: Path, tmp_path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#") and f"--config trainer/configs/{path.name}" in text, "header must show the command"
    config = load_config(path, [])
    assert isinstance(config, TrainConfig)
    filled = load_config(path, ["model.name_or_path=m", "data.phase1=k.jsonl", "data.phase2=s.jsonl"])
    plans = plan_phases(filled, tmp_path)
    expected = {
        "phase1.yaml": ["phase1"],
        "phase2.yaml": ["phase1", "phase2"],
        "stacked.yaml": ["stacked"],
        "tiny_cpu.yaml": ["phase1", "phase2"],
    }[path.name]
    assert [plan.name for plan in plans] == expected


def test_lab_defaults_hold_unless_overridden() -> None:
    config = parse_config({}, [])
    assert (config.phase1.learning_rate, config.phase1.effective_batch, config.phase1.epochs) == (
        2e-5,
        128,
        7,
    )
    assert (config.phase2.learning_rate, config.phase2.effective_batch, config.phase2.epochs) == (
        6e-6,
        3840,
        10,
    )
    assert config.phase1.warmup_steps == config.phase2.warmup_steps == 25
    assert config.phase1.lr_scheduler == config.phase2.lr_scheduler == "cosine"


def test_dotted_overrides_are_parsed_as_yaml_scalars() -> None:
    config = parse_config(
        {"phase1": {"epochs": 7}},
        [
            "phase1.epochs=3",
            "phase2.learning_rate=1e-5",  # YAML 1.1 reads this as a string; it still means a number
            "model.finetune=lora",
            "model.lora.target_modules=[q_proj, v_proj]",
            "run.use_cpu=true",
            "distributed.fsdp_config.version=2",
        ],
    )
    assert config.phase1.epochs == 3.0
    assert config.phase2.learning_rate == 1e-5
    assert config.model.finetune == "lora"
    assert config.model.lora.target_modules == ("q_proj", "v_proj")
    assert config.run.use_cpu is True
    assert config.distributed.fsdp_config == {"version": 2}


def test_unknown_override_key_names_the_key_and_the_choices() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({}, ["phase1.lr=1e-4"])
    message = str(caught.value)
    assert "unknown key 'phase1.lr'" in message
    assert "learning_rate" in message


def test_every_problem_is_reported_in_one_error() -> None:
    raw = {
        "run": {"seed": "abc", "colour": "red"},
        "phase2": {"effective_batch": 2.5},
        "data": {"max_length": 64},
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(raw, ["model.precision=fp8", "data"])
    message = str(caught.value)
    for expected in (
        "'run.seed' must be a whole number",
        "unknown key 'run.colour'",
        "'phase2.effective_batch'",
        "'model.precision' must be one of",
        "override 'data' must look like dotted.key=value",
    ):
        assert expected in message
    assert "5 problem(s)" in message


def test_values_out_of_range_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"'data\.pack_tokens' \(100\) must be at least 'data\.max_length'"):
        parse_config({"data": {"max_length": 200, "pack_tokens": 100}}, [])
    with pytest.raises(ConfigError, match="taxonomy_commit"):
        parse_config({}, ["run.taxonomy_commit=../elsewhere"])


def test_missing_data_paths_say_what_to_add(tmp_path: Path) -> None:
    config = load_config(CONFIG_DIR / "phase2.yaml", ["model.name_or_path=m"])
    with pytest.raises(ConfigError, match=re.escape("add data.phase1=KNOWLEDGE.jsonl data.phase2=SKILLS.jsonl")):
        plan_phases(config, tmp_path)


def test_cli_usage_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    assert main(["train", "--config", str(tmp_path / "absent.yaml")]) == EXIT_USAGE
    capsys.readouterr()
    assert main(["--config", str(CONFIG_DIR / "tiny_cpu.yaml"), "phase1.lr=1"]) == EXIT_USAGE
    err = capsys.readouterr().err  # a `taxbot:` message, not a log line
    assert err.startswith("taxbot: ") and "unknown key 'phase1.lr'" in err


def test_phase2_config_reuses_the_phase1_that_phase1_config_trained(tmp_path: Path) -> None:
    paths = ["model.name_or_path=m", "data.phase1=k.jsonl", "data.phase2=s.jsonl"]
    digests = {"k.jsonl": "k-digest", "s.jsonl": "s-digest"}
    (phase1_only,) = plan_phases(load_config(CONFIG_DIR / "phase1.yaml", paths), tmp_path)
    phase2_config = load_config(CONFIG_DIR / "phase2.yaml", paths)
    phase1_again, phase2 = plan_phases(phase2_config, tmp_path)
    phase1_config = load_config(CONFIG_DIR / "phase1.yaml", paths)
    assert fingerprint(phase1_only, phase1_config, digests) == fingerprint(phase1_again, phase2_config, digests)
    assert phase2.start_model == str(tmp_path / "phase1" / "final")
