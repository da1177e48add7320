"""The `taxbot` command as a contributor and a workflow run it: output formats and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import main
from tests.conftest import REPO_ROOT, subprocess_env, write_tree
from tests.leaves import ATTRIBUTION, freeform_skill

DEMO = REPO_ROOT / "fixtures" / "demo-taxonomy"
DEMO_PR = REPO_ROOT / "fixtures" / "demo-pr"


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=subprocess_env(**env), timeout=120
    )


def test_demo_taxonomy_is_clean_and_exits_0() -> None:
    result = run("lint", str(DEMO))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "3 files checked: all clean"


def test_findings_print_path_line_rule_and_exit_1() -> None:
    result = run("lint", str(DEMO_PR))
    assert result.returncode == 1
    leaf = f"{DEMO_PR}/compositional_skills/linguistics/Palindromes/qna.yaml"
    assert f"{leaf}:6:3: error [schema/minItems] `seed_examples` needs at least 5 items, found 4" in result.stdout
    assert f"{leaf}:7:13: warning [yaml-boolean]" in result.stdout
    assert result.stdout.rstrip().endswith("1 file checked: 5 error(s) in 1 file(s), 2 warning(s)")


def test_json_output_keeps_paths_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    write_tree(
        tmp_path,
        {"compositional_skills/a/qna.yaml": freeform_skill(4), "compositional_skills/a/attribution.txt": ATTRIBUTION},
    )
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "--format", "json", "compositional_skills/a/qna.yaml"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document == {
        "findings": [
            {
                "path": "compositional_skills/a/qna.yaml",
                "line": 5,
                "col": 3,
                "severity": "error",
                "rule": "schema/minItems",
                "message": "`seed_examples` needs at least 5 items, found 4",
            }
        ]
    }


def test_github_format_caps_annotations_and_puts_the_rest_in_the_step_summary(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {}
    for i in range(12):
        files[f"compositional_skills/s{i}/qna.yaml"] = freeform_skill(4)  # one error each
        files[f"compositional_skills/s{i}/attribution.txt"] = ATTRIBUTION
    write_tree(tmp_path, files)
    summary = tmp_path / "summary.md"
    result = run("lint", "--format", "github", str(tmp_path / "compositional_skills"), GITHUB_STEP_SUMMARY=str(summary))
    assert result.returncode == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 10
    assert annotations[0].startswith(f"::error file={tmp_path}/compositional_skills/s0/qna.yaml,line=5,col=3,")
    text = summary.read_text()
    assert "the other 2 finding(s)" in text
    assert "s8/qna.yaml" in text and "s9/qna.yaml" in text


def test_workflow_command_data_is_escaped() -> None:
    from bot.lint.render import render_github
    from bot.taxonomy.findings import Finding, Severity

    commands, _ = render_github([Finding("a,b:c.yaml", 1, 1, Severity.ERROR, "r", "50% done\nnext")], 1)
    assert commands.splitlines()[0] == "::error file=a%2Cb%3Ac.yaml,line=1,col=1,title=r::50%25 done%0Anext"


def test_config_turns_off_extra_rules_and_warns_on_unknown_keys(tmp_path: Path, capsys) -> None:
    write_tree(
        tmp_path,
        {
            ".taxbot.yaml": "lint:\n  disable: [attribution-missing, no-such-rule]\n  colour: blue\n",
            "compositional_skills/a/qna.yaml": freeform_skill(),
        },
    )
    assert main(["lint", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "attribution-missing" not in out.split("no-such-rule")[0].split("\n")[-1]
    assert "`no-such-rule` is not a rule that can be turned off" in out
    assert "unknown key `lint.colour`" in out


@pytest.mark.parametrize(
    "argv", [["lint"], ["lint", "no/such/path"], ["frobnicate"], ["diff", "--taxonomy", ".", "--base", "HEAD"]]
)
def test_usage_errors_exit_2(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # not a git repository: diff cannot run here
    assert main(argv) == 2


def test_many_files_across_processes_give_the_same_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.lint.batch

    files: dict[str, str | bytes] = {}
    for i in range(6):
        files[f"compositional_skills/s{i}/qna.yaml"] = freeform_skill(4 + i % 2)
    write_tree(tmp_path, files)
    targets = bot.lint.batch.collect_targets([str(tmp_path)], None)
    alone = bot.lint.batch.lint_targets(targets, bot.lint.batch.Profile.STRICT, jobs=1)
    monkeypatch.setattr(bot.lint.batch, "PARALLEL_FROM", 2)
    pooled = bot.lint.batch.lint_targets(targets, bot.lint.batch.Profile.STRICT, jobs=2)
    assert sorted(pooled) == sorted(alone) and len(alone) == 9


# The first hour: what a new contributor meets.


def test_version_is_the_installed_one(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        expected = version("taxbot")
    except PackageNotFoundError:
        expected = "unknown (not installed)"
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"taxbot {expected}"


def test_colour_on_a_terminal_only_and_never_with_no_color(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert main(["lint", str(DEMO_PR)]) == 1
    assert "\033[" not in capsys.readouterr().out  # captured, as when piped
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["lint", str(DEMO_PR)]) == 1
    out = capsys.readouterr().out
    assert ": \033[31merror\033[0m [schema/minItems]" in out and ": \033[33mwarning\033[0m [yaml-boolean]" in out
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["lint", str(DEMO_PR)]) == 1
    assert "\033[" not in capsys.readouterr().out


def test_a_path_without_leaves_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("no leaves here")
    assert main(["lint", str(tmp_path)]) == 2
    assert f"taxbot: no qna.yaml files under {tmp_path}" in capsys.readouterr().err


def test_github_format_outside_actions_prints_what_the_annotations_cannot_hold(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {}
    for i in range(12):
        files[f"compositional_skills/s{i}/qna.yaml"] = freeform_skill(4)
        files[f"compositional_skills/s{i}/attribution.txt"] = ATTRIBUTION
    write_tree(tmp_path, files)
    result = run("lint", "--format", "github", str(tmp_path / "compositional_skills"))
    lines = result.stdout.splitlines()
    assert len([line for line in lines if line.startswith("::error ")]) == 10
    assert "GitHub shows 10 annotations of each kind per step; the other 2:" in lines
    assert f"{tmp_path}/compositional_skills/s9/qna.yaml:5:3: error [schema/minItems]" in result.stdout


def test_similar_and_gaps_sections_are_checked_by_lint_at_their_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = "similar:\n  question: 20\ngaps:\n  min_examples: 3\n  studnet_pass: 50\n"
    write_tree(tmp_path, {".taxbot.yaml": config, "compositional_skills/a/qna.yaml": freeform_skill(),
                          "compositional_skills/a/attribution.txt": ATTRIBUTION})  # fmt: skip
    assert main(["lint", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path}/.taxbot.yaml:2:3: error [config] `similar.question` must be a score from 50 to 100" in out
    assert f"{tmp_path}/.taxbot.yaml:5:3: warning [config] unknown key `gaps.studnet_pass`" in out


def test_train_config_errors_answer_at_once_without_loading_torch() -> None:
    pytest.importorskip("torch", reason="needs the `train` extra")
    code = "import sys; from bot.cli import main; c = main(['train', '--config', '/nonexistent.yaml']); " \
           "print(c, 'torch' in sys.modules)"  # fmt: skip
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env(),
                            timeout=120)  # fmt: skip
    assert result.stdout.split() == ["2", "False"]
    assert result.stderr.startswith("taxbot: cannot read config /nonexistent.yaml")


def _readme_block(heading: str) -> str:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(f"\n{heading}\n") :]
    start = section.index("```sh\n") + len("```sh\n")
    return section[start : section.index("\n```", start)]


def test_the_readme_try_it_line_runs_twice(tmp_path: Path) -> None:
    line = _readme_block("## Try it")
    after_install = line[line.index("pip install -e . && ") + len("pip install -e . && ") :]
    command = after_install.replace("taxbot review", f"{sys.executable} -m bot review")
    for _ in range(2):
        result = subprocess.run(["sh", "-c", command], cwd=REPO_ROOT, capture_output=True, text=True,
                                env=subprocess_env(TMPDIR=str(tmp_path)), timeout=120)  # fmt: skip
        assert result.returncode == 1, result.stderr  # the demo contribution has errors
        assert "\ntaxbot review: changes needed: 5 error(s)" in result.stdout
        assert "<!--" not in result.stdout


def test_the_readme_test_command_is_what_ci_runs() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    steps = _readme_block("## Run the tests").split(" && ")
    assert steps[-1] == "python -m pytest -q" and "python -m pytest -q" in ci
    for step in steps[:-1]:
        assert step.startswith("pip install ")
        assert f"python -m pip install --quiet {step.removeprefix('pip install ')}".replace("'", '"') in ci, step
