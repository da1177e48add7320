"""`taxbot release` from the command line: settings, the edges (Hub, GitHub, teacher, answerers), exit codes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from bot.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_STOPPED
from bot.generation.teacher import endpoint_from
from bot.lint.batch import TargetError
from bot.taxonomy.config import config_in
from bot.taxonomy.tree import git_source


def _push_messages(env: dict[str, str]) -> list[str]:
    """Commit messages of the push event that started the run, for a first release's pull requests."""
    path = env.get("GITHUB_EVENT_PATH")
    if env.get("GITHUB_EVENT_NAME") != "push" or not path:
        return []
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
        return [str(commit.get("message", "")) for commit in event.get("commits") or []]
    except (OSError, ValueError, AttributeError):
        return []


def release_command(taxonomy_dir: Path, commit: str, cache: str | None, work: str | None) -> int:
    """Run a release and turn its outcome into an exit code; the work happens in bot.release.pipeline."""
    try:  # the release trains: it needs the `train` extra
        from huggingface_hub import HfApi

        from bot.github.client import GITHUB_FAILURES, GitHubError, connect, describe, settings_from_env
        from bot.release.answer import EndpointJudge
        from bot.release.hub import HubError
        from bot.release.journal import JournalError
        from bot.release.pipeline import ReleaseEdges, ReleaseError, ReleaseInputs, ReleaseStopped, run_release
        from bot.release.settings import SettingsError, read_settings
        from trainer.answer import LocalAnswerer
    except ImportError as error:
        raise TargetError(f"releasing needs the `train` extra: pip install 'taxbot[train]' ({error})") from error
    env = dict(os.environ)
    # The config comes from the commit being released, not from whatever the work tree holds.
    config, problems = config_in(git_source(taxonomy_dir, commit))
    for problem in problems:
        print(f"{problem.path}:{problem.line}:{problem.col}: {problem.severity} {problem.message}", file=sys.stderr)
    try:
        settings, gate, warnings = read_settings(config.section("release"), config.section("gate"))
    except SettingsError as error:
        raise TargetError(str(error)) from error
    for warning in warnings:
        print(f"taxbot: {warning}", file=sys.stderr)
    teacher = endpoint_from(config.section("teacher"), env, "TAXBOT_TEACHER")
    if teacher is None:
        raise TargetError("no teacher is configured: set TAXBOT_TEACHER_URL and TAXBOT_TEACHER_MODEL")
    if not env.get("HF_TOKEN"):
        raise TargetError(f"HF_TOKEN is not set: the release needs a Hub token that can write {settings.hub_repo}")
    judge = None
    if gate.judge:
        section = {key: value for key, value in (("url", gate.judge_url), ("model", gate.judge_model)) if value}
        judge = EndpointJudge(endpoint_from(section, env, "TAXBOT_JUDGE") or teacher)
    github_repo = settings.github_repo or env.get("GITHUB_REPOSITORY")
    if not github_repo:
        raise TargetError("no GitHub repository: set `release.github_repo` or GITHUB_REPOSITORY")

    def log(line: str) -> None:
        print(f"release: {line}", file=sys.stderr, flush=True)

    try:
        repository = connect(settings_from_env(env)).get_repo(github_repo)
        edges = ReleaseEdges(
            teacher=teacher,
            hub=HfApi(endpoint=env.get("HF_ENDPOINT") or None, token=env["HF_TOKEN"]),
            github=repository,
            answerer=lambda model: LocalAnswerer(model, max_new_tokens=gate.max_new_tokens),
            judge=judge,
            log=log,
        )
        cache_dir = Path(cache) if cache else taxonomy_dir / ".taxbot-cache"
        work_dir = Path(work) if work else cache_dir / "releases"
        inputs = ReleaseInputs(taxonomy_dir, commit, work_dir, cache_dir, settings, gate, _push_messages(env))
        outcome = run_release(inputs, edges)
    except ReleaseStopped as stopped:
        print(f"taxbot: {stopped}", file=sys.stderr)
        return EXIT_STOPPED
    except GITHUB_FAILURES as error:
        print(f"taxbot: GitHub: {describe(error)}", file=sys.stderr)
        return EXIT_FINDINGS
    except (ReleaseError, HubError, GitHubError, JournalError) as error:
        print(f"taxbot: {error}", file=sys.stderr)
        return EXIT_FINDINGS
    gate_text = (outcome.work_dir / "gate.md").read_text(encoding="utf-8")
    print(gate_text)
    if step_summary := env.get("GITHUB_STEP_SUMMARY"):
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(f"## taxbot release {outcome.tag}\n\n{gate_text}")
    if not outcome.published:
        print(f"taxbot: the candidate did not pass the gate; nothing was published ({outcome.work_dir})",
              file=sys.stderr)  # fmt: skip
        return EXIT_FINDINGS
    print(f"released {outcome.tag}: {edges.hub.endpoint}/{settings.hub_repo}/tree/{outcome.tag}")
    return EXIT_CLEAN
