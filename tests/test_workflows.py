"""The workflows and actions as GitHub would run them: caller workflows that fit the reusable ones they call,
names that `workflow_run` waits for, actions pinned by SHA to majors that do not run on Node 20, hashed installs
where secrets are held, and a GPU job without a GitHub write token. (zizmor and check-jsonschema run in .ci/run.)"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REUSABLE = ROOT / ".github" / "workflows"
CALLERS = ROOT / "examples" / "github-workflows"
ACTIONS = ROOT / "actions"
# The last majors of each official action that run on Node 20, which GitHub's runners drop in 2026.
NODE20_MAJORS = {"actions/checkout": 4, "actions/setup-python": 5, "actions/upload-artifact": 4,
                 "actions/download-artifact": 4, "actions/create-github-app-token": 1}  # fmt: skip
WRITE = {"write"}


def load(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # `on:` stays a string key
    assert isinstance(data, dict)
    return data


def all_files() -> list[Path]:
    return sorted([*REUSABLE.glob("*.yml"), *CALLERS.glob("*.yml"), *ACTIONS.glob("*/action.yml")])


def uses_lines(path: Path) -> list[tuple[str, str]]:
    """(action@ref, trailing comment) of every `uses:` in a file."""
    found = re.findall(r"uses:\s*([^\s#]+)\s*(?:#\s*(.*))?$", path.read_text(encoding="utf-8"), re.MULTILINE)
    return [(use, comment.strip()) for use, comment in found]


@pytest.mark.parametrize("path", all_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_action_is_pinned_by_sha_to_a_major_past_node_20(path: Path) -> None:
    for use, comment in uses_lines(path):
        if use.startswith("./"):
            continue
        name, _, ref = use.partition("@")
        assert re.fullmatch(r"[0-9a-f]{40}", ref), f"{use} is not pinned by a full commit SHA"
        if name in NODE20_MAJORS:
            major = re.match(r"v(\d+)", comment)
            assert major, f"{use}: say the version after the SHA (# vN.N.N)"
            assert int(major.group(1)) > NODE20_MAJORS[name], f"{use} ({comment}) still runs on Node 20"


def callers() -> list[tuple[Path, str, dict[str, Any]]]:
    out = []
    for path in sorted(CALLERS.glob("*.yml")):
        for name, job in load(path)["jobs"].items():
            out.append((path, name, job))
    return out


@pytest.mark.parametrize("caller", callers(), ids=lambda c: f"{c[0].name}:{c[1]}")
def test_each_caller_fits_the_reusable_workflow_it_calls(caller: tuple[Path, str, dict[str, Any]]) -> None:
    path, _, job = caller
    target, _, ref = job["uses"].partition("@")
    reusable = load(REUSABLE / Path(target).name)
    call = reusable["on"]["workflow_call"]
    assert job["with"]["taxbot-ref"] == ref  # one taxbot commit, for the workflow and the code it runs
    assert set(job.get("with", {})) <= set(call.get("inputs", {}))
    assert set(job.get("secrets", {})) <= set(call.get("secrets", {}))
    required = {name for name, spec in call.get("inputs", {}).items() if spec.get("required") == "true"}
    assert required <= set(job.get("with", {}))
    # A called workflow's jobs get no more than the caller grants.
    granted = job.get("permissions", {})
    for name, inner in reusable["jobs"].items():
        for scope, level in inner.get("permissions", {}).items():
            assert granted.get(scope) in (level, "write"), f"{path.name} grants {scope} too little for {name}"


def test_publish_waits_for_the_review_by_its_exact_name() -> None:
    review = load(CALLERS / "taxbot-review.yml")
    publish = load(CALLERS / "taxbot-publish.yml")
    assert publish["on"]["workflow_run"]["workflows"] == [review["name"]]
    assert publish["on"]["workflow_run"]["types"] == ["completed"]
    assert set(load(CALLERS / "taxbot-commands.yml")["on"]["issue_comment"]["types"]) == {
        "created", "edited", "deleted"}  # fmt: skip


def test_the_untrusted_review_has_no_secrets_and_reads_only() -> None:
    caller = load(CALLERS / "taxbot-review.yml")
    assert list(caller["on"]) == ["pull_request"]
    [job] = caller["jobs"].values()
    assert "secrets" not in job and job["permissions"] == {"contents": "read"}


def test_jobs_holding_secrets_install_only_hashed_pins() -> None:
    for action in ("publish", "release", "review"):
        text = (ACTIONS / action / "action.yml").read_text(encoding="utf-8")
        installs = [line for line in text.splitlines() if "pip install" in line]
        assert installs and all("--require-hashes" in line and "--no-deps" in line for line in installs), action
    for lock in (ACTIONS / "requirements").glob("*.lock"):
        text = lock.read_text(encoding="utf-8")
        pins = re.findall(r"^([A-Za-z0-9_.-]+)==\S+ \\$", text, re.MULTILINE)
        assert pins and text.count("--hash=sha256:") >= len(pins)


def test_the_gpu_job_holds_no_github_write_token_and_a_short_job_announces() -> None:
    jobs = load(REUSABLE / "taxonomy-release.yml")["jobs"]
    train, announce = jobs["train"], jobs["announce"]
    assert WRITE.isdisjoint(train["permissions"].values())
    assert "announce" not in train["steps"][-2]["with"]["steps"].split(",")
    assert announce["needs"] == "train" and announce["runs-on"] == "ubuntu-latest"
    assert int(announce["timeout-minutes"]) <= 30
    assert "hf-token" not in str(announce) and "teacher-api-key" not in str(announce)


def test_the_trusted_jobs_check_out_the_default_branch_and_trust_no_artifact() -> None:
    for name in ("taxonomy-publish.yml", "taxonomy-commands.yml"):
        text = (REUSABLE / name).read_text(encoding="utf-8")
        [job] = load(REUSABLE / name)["jobs"].values()
        assert job["steps"][0]["with"]["ref"] == "${{ github.event.repository.default_branch }}"
        assert "download-artifact" not in text and "actions: read" not in text
