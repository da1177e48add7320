"""`release:` and `gate:` in .taxbot.yaml: defaults, every problem at once, unknown keys warned about."""

from __future__ import annotations

import pytest

from bot.release.settings import SettingsError, read_settings, render_scheme
from bot.taxonomy.config import parse_config

MINIMAL = {"hub_repo": "my-org/taxonomy-model", "base_model": "ibm-granite/granite-7b-base"}


def test_two_keys_are_enough_and_the_rest_has_defaults() -> None:
    release, gate, warnings = read_settings(MINIMAL, {})
    assert (release.tag, release.candidate_branch, release.license) == (
        "v{date}-{short_sha}", "candidate-{short_sha}", "apache-2.0",
    )  # fmt: skip
    assert (gate.metric, gate.min_gain, gate.max_regression, gate.judge) == ("rouge_l", 0.02, 0.02, True)
    assert (gate.safety_set, gate.safety_margin, gate.every_leaf, gate.judge_url) == (None, 0.1, True, None)
    assert warnings == []


def test_the_sections_come_from_taxbot_yaml() -> None:
    text = (
        "release:\n  hub_repo: org/model\n  base_model: base\n  tag: 'release-{sha}'\n"
        "  train_overrides: [phase1.epochs=2]\ngate:\n  max_regression: 0.05\n  judge: false\n"
    )
    config, problems = parse_config(text)
    assert problems == []
    release, gate, _ = read_settings(config.section("release"), config.section("gate"))
    assert release.tag == "release-{sha}" and release.train_overrides == ("phase1.epochs=2",)
    assert gate.max_regression == 0.05 and gate.judge is False


def test_every_problem_is_listed_in_one_error() -> None:
    release = {"hub_repo": "no-owner", "tag": "v{date}", "per_leaf": "many", "license": "Apache 2.0",
               "base_model_id": "./local"}  # fmt: skip
    gate = {"min_gain": 0, "metric": "bleu", "judge": "yes", "max_regression": 2, "judge_url": "http://127.0.0.1:1"}
    with pytest.raises(SettingsError) as caught:
        read_settings(release, gate)
    message = str(caught.value)
    assert message.startswith("11 problem(s) in .taxbot.yaml:")
    for expected in (
        "`release.base_model` is required (e.g. base_model: ibm-granite/granite-7b-base)",
        "`release.hub_repo` must be owner/name, found 'no-owner'",
        "`release.tag` must contain {short_sha} or {sha}",
        "`release.per_leaf` must be a whole number, found 'many'",
        "`release.license` must be the Hub's licence id, e.g. apache-2.0, found 'Apache 2.0'",
        "`gate.min_gain` must be above 0",
        "`gate.metric` must be one of rouge_l, token_set, found 'bleu'",
        "`gate.judge` must be true or false, found 'yes'",
        "`gate.max_regression` must be between 0 and 1",
        "`release.base_model_id` must be a Hub id (owner/name), found './local'",
        "`gate.judge_url` and `gate.judge_model` go together",
    ):
        assert expected in message


@pytest.mark.parametrize(
    ("scheme", "problem"),
    [
        ("v{when}-{sha}", r"unknown placeholder\(s\) when"),
        ("release {short_sha}", "not a valid tag or branch name"),
        ("v{short_sha", "not a valid scheme"),
    ],
)
def test_bad_tag_schemes_say_why(scheme: str, problem: str) -> None:
    with pytest.raises(SettingsError, match=problem):
        read_settings({**MINIMAL, "tag": scheme}, {})


def test_unknown_keys_warn_and_schemes_render() -> None:
    _, _, warnings = read_settings({**MINIMAL, "hub_rep": "x"}, {"margin": 1})
    assert warnings[0].startswith("unknown key `release.hub_rep` is ignored; known: hub_repo, base_model")
    assert warnings[1].startswith("unknown key `gate.margin` is ignored")
    assert render_scheme("v{date}-{short_sha}", "abcdef0123456789" * 2 + "abcdef01", "20250131") == "v20250131-abcdef0"
