"""`taxbot release` before any work: every missing setting in one run, and no blame on a config that is not there."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.leaves import ATTRIBUTION, freeform_skill

UNSET = ("HF_TOKEN", "GITHUB_TOKEN", "GH_TOKEN", "GITHUB_REPOSITORY", "TAXBOT_TEACHER_URL", "TAXBOT_TEACHER_MODEL")


def test_every_missing_setting_is_reported_in_one_run(
    taxonomy_repo, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in UNSET:
        monkeypatch.delenv(name, raising=False)
    leaf = "compositional_skills/arithmetic/addition/qna.yaml"
    sha = taxonomy_repo.commit_files({leaf: freeform_skill(), leaf.replace("qna.yaml", "attribution.txt"): ATTRIBUTION})
    assert main(["release", "--taxonomy", taxonomy_repo.working_dir, "--commit", sha]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert lines[0].startswith("taxbot: ") and "problem(s) before the release can start" in lines[0]
    absent = f"there is no .taxbot.yaml at {sha[:12]} (add one at the taxonomy root)"
    assert f"  {absent}: `release.hub_repo` is required (e.g. hub_repo: my-org/taxonomy-model)" in lines
    assert any(line.startswith(f"  {absent}: `release.base_model` is required") for line in lines)
    assert "problem(s) in .taxbot.yaml" not in err
    for missing in ("no teacher is configured", "HF_TOKEN is not set", "GITHUB_TOKEN is not set",
                    "no GitHub repository"):  # fmt: skip
        assert any(line.startswith(f"  {missing}") for line in lines), missing
    assert not (Path(taxonomy_repo.working_dir) / ".taxbot-cache").exists()  # stopped before any work
