"""`taxbot release` from the command line: settings, the edges (Hub, GitHub, teacher, answerers), exit codes."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

from bot.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_STOPPED, UsageError
from bot.generation.teacher import ConfigError, endpoint_from
from bot.lint.batch import TargetError
from bot.taxonomy.config import CONFIG_NAME, config_in
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


def _missing_train_extra() -> str | None:
    """The release trains: it needs the `train` extra. Looked up, not imported, so the check is instant."""
    missing = [name for name in ("torch", "transformers", "huggingface_hub") if importlib.util.find_spec(name) is None]
    if missing:
        return f"releasing needs the `train` extra (missing {', '.join(missing)}): pip install 'taxbot[train]'"
    return None


def release_command(taxonomy_dir: Path, commit: str, cache: str | None, work: str | None,
                    steps: tuple[str, ...] | None = None) -> int:  # fmt: skip
    """Run a release (all its steps, or `steps`) and turn its outcome into an exit code; the work happens in
    bot.release.pipeline. Announcing alone needs no Hub token: it only reads the journal and writes to GitHub.

    Everything a release needs (settings, tokens, the teacher, the `train` extra) is checked first and
    every problem reported in one run, before any work.
    """
    from bot.github.client import settings_from_env
    from bot.release.journal import STEPS
    from bot.release.settings import SettingsError, read_settings

    steps = steps or STEPS
    unknown = sorted(set(steps) - set(STEPS))
    if unknown:
        raise TargetError(f"unknown release step(s) {', '.join(unknown)}; the steps are {', '.join(STEPS)}")
    announce_only = set(steps) == {"announce"}

    env = dict(os.environ)
    # The config comes from the commit being released, not from whatever the work tree holds.
    source = git_source(taxonomy_dir, commit)
    config, config_problems = config_in(source)
    for problem in config_problems:
        print(f"{problem.path}:{problem.line}:{problem.col}: {problem.severity} {problem.message}", file=sys.stderr)
    short = source.commit.hexsha[:12]
    if source.entry(CONFIG_NAME) is None:
        where = f"there is no {CONFIG_NAME} at {short} (add one at the taxonomy root)"
    else:
        where = f"{CONFIG_NAME} at {short}"
    problems: list[str] = []
    settings = gate = None
    try:
        settings, gate, warnings = read_settings(config.section("release"), config.section("gate"))
    except SettingsError as error:
        problems += [f"{where}: {problem}" for problem in error.problems]
        warnings = []
    for warning in warnings:
        print(f"taxbot: {warning}", file=sys.stderr)
    teacher = None
    try:
        teacher = endpoint_from(config.section("teacher"), env, "TAXBOT_TEACHER")
    except ConfigError as error:
        problems.append(f"the `teacher:` section of {CONFIG_NAME}: {error}")
    else:
        if teacher is None:
            problems.append("no teacher is configured: set TAXBOT_TEACHER_URL and TAXBOT_TEACHER_MODEL")
    if not env.get("HF_TOKEN") and not announce_only:
        hub_repo = settings.hub_repo if settings else "`release.hub_repo`"
        problems.append(f"HF_TOKEN is not set: the release needs a Hub token that can write {hub_repo}")
    try:
        github_settings = settings_from_env(env)
    except UsageError as error:
        problems.append(str(error))
    github_repo = (settings.github_repo if settings else None) or env.get("GITHUB_REPOSITORY")
    if not github_repo:
        problems.append("no GitHub repository: set `release.github_repo` or GITHUB_REPOSITORY")
    if missing := _missing_train_extra():
        problems.append(missing)
    if problems:
        raise TargetError(f"{len(problems)} problem(s) before the release can start:\n  " + "\n  ".join(problems))
    assert settings is not None and gate is not None and teacher is not None and github_repo  # checked above

    from huggingface_hub import HfApi

    from bot.github.client import GITHUB_FAILURES, GitHubError, connect, describe
    from bot.release.answer import judge_for
    from bot.release.hub import HubError
    from bot.release.journal import JournalError
    from bot.release.pipeline import ReleaseEdges, ReleaseError, ReleaseInputs, ReleaseStopped, run_release
    from trainer.answer import LocalAnswerer

    try:
        judge = judge_for(gate, env, teacher)
    except ConfigError as error:
        raise TargetError(f"the gate's judge: {error}") from error

    def log(line: str) -> None:
        print(f"release: {line}", file=sys.stderr, flush=True)

    try:
        repository = connect(github_settings).get_repo(github_repo)
        edges = ReleaseEdges(
            teacher=teacher,
            hub=HfApi(endpoint=env.get("HF_ENDPOINT") or None, token=env.get("HF_TOKEN") or None),
            github=repository,
            answerer=lambda model: LocalAnswerer(model, max_new_tokens=gate.max_new_tokens),
            judge=judge,
            log=log,
        )
        cache_dir = Path(cache) if cache else taxonomy_dir / ".taxbot-cache"
        work_dir = Path(work) if work else cache_dir / "releases"
        inputs = ReleaseInputs(taxonomy_dir, commit, work_dir, cache_dir, settings, gate, _push_messages(env))
        outcome = run_release(inputs, edges, steps)
    except ReleaseStopped as stopped:
        print(f"taxbot: {stopped}", file=sys.stderr)
        return EXIT_STOPPED
    except GITHUB_FAILURES as error:
        print(f"taxbot: GitHub: {describe(error)}", file=sys.stderr)
        return EXIT_FINDINGS
    except (ReleaseError, HubError, GitHubError, JournalError) as error:
        print(f"taxbot: {error}", file=sys.stderr)
        return EXIT_FINDINGS
    if announce_only:
        print(f"announced {outcome.tag}")
        return EXIT_CLEAN
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
