"""`taxbot trial` from the command line: run (GPU job, no write token), post and stale (write token), authorize."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_STOPPED
from bot.lint.batch import TargetError
from bot.taxonomy.config import Config, config_in, load_config
from bot.taxonomy.tree import git_source

DEFAULT_BOT_LOGIN = "github-actions[bot]"


def _log(line: str) -> None:
    print(f"trial: {line}", file=sys.stderr, flush=True)


def _config_problems(config: Config, problems: list[Any]) -> None:
    for problem in problems:
        print(f"{problem.path}:{problem.line}:{problem.col}: {problem.severity} {problem.message}", file=sys.stderr)


def _trial_settings(config: Config) -> Any:
    from bot.release.trial import read_trial_settings

    settings, problems, warnings = read_trial_settings(config.section("trial"))
    for warning in warnings:
        print(f"taxbot: {warning}", file=sys.stderr)
    if problems:
        raise TargetError(f"{len(problems)} problem(s) in .taxbot.yaml:\n  " + "\n  ".join(problems))
    return settings


def _run_url(env: Mapping[str, str]) -> str | None:
    server, repo, run_id = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None


def run_command(
    taxonomy_dir: Path, base: str, head: str, pull: int, cache: str | None, work: str | None, out: Path
) -> int:
    """Try the pull request on the release; write the result for the posting job. Needs no GitHub token."""
    try:  # the trial trains: it needs the `train` extra
        from huggingface_hub import HfApi

        from bot.generation.teacher import endpoint_from
        from bot.release.answer import judge_for
        from bot.release.journal import JournalError
        from bot.release.settings import SettingsError, read_settings
        from bot.release.trial import IMPROVED, STOPPED, TrialEdges, TrialError, TrialInputs, run_trial
        from bot.release.trial_comment import render_trial_comment
        from trainer.answer import LocalAnswerer
    except ImportError as error:
        raise TargetError(f"a trial needs the `train` extra: pip install 'taxbot[train]' ({error})") from error
    env = dict(os.environ)
    # Settings come from the base commit: a pull request cannot change how it is tried.
    config, problems = config_in(git_source(taxonomy_dir, base))
    _config_problems(config, problems)
    try:
        release, gate, warnings = read_settings(config.section("release"), config.section("gate"))
    except SettingsError as error:
        raise TargetError(str(error)) from error
    for warning in warnings:
        print(f"taxbot: {warning}", file=sys.stderr)
    trial = _trial_settings(config)
    teacher = endpoint_from(config.section("teacher"), env, "TAXBOT_TEACHER")
    if teacher is None:
        raise TargetError("no teacher is configured: set TAXBOT_TEACHER_URL and TAXBOT_TEACHER_MODEL")
    edges = TrialEdges(
        teacher=teacher,
        # Read only: the trial downloads the current release and publishes nothing.
        hub=HfApi(endpoint=env.get("HF_ENDPOINT") or None, token=env.get("HF_TOKEN") or False),
        answerer=lambda model: LocalAnswerer(model, max_new_tokens=gate.max_new_tokens),
        judge=judge_for(gate, env, teacher),
        log=_log,
    )
    cache_dir = Path(cache) if cache else taxonomy_dir / ".taxbot-cache"
    work_dir = Path(work) if work else cache_dir / "trials"
    inputs = TrialInputs(taxonomy_dir, base, head, pull, work_dir, cache_dir, release, gate, trial)
    try:
        outcome = run_trial(inputs, edges)
    except (TrialError, JournalError) as error:
        raise TargetError(str(error)) from error
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(outcome.result, indent=2) + "\n", encoding="utf-8")
    preview = render_trial_comment(outcome.result, _run_url(env))
    print(preview)
    if step_summary := env.get("GITHUB_STEP_SUMMARY"):
        with open(step_summary, "a", encoding="utf-8") as handle:
            handle.write(preview)
    status = outcome.result["status"]
    print(f"taxbot: trial of {outcome.result['head'][:12]}: {outcome.result['verdict']}", file=sys.stderr)
    if status == STOPPED:
        return EXIT_STOPPED
    return EXIT_CLEAN if status == IMPROVED else EXIT_FINDINGS


def _repository(env: Mapping[str, str]) -> Any:
    from bot.github.client import connect, settings_from_env

    name = env.get("GITHUB_REPOSITORY")
    if not name:
        raise TargetError("GITHUB_REPOSITORY is not set: name the taxonomy's repository as owner/name")
    return connect(settings_from_env(env)).get_repo(name)


def post_command(taxonomy_dir: Path, result_path: Path, pull: int, head: str) -> int:
    """Write the trial's comment and labels. `pull` and `head` are what was authorised: a result for another
    pull request or head is refused, and a missing result (the GPU job died) is reported as a failed trial."""
    from bot.github.client import GITHUB_FAILURES, describe
    from bot.release.trial import FAILED, RESULT_KIND, trial_labels
    from bot.release.trial_comment import TrialResultError, post_trial, read_result

    env = dict(os.environ)
    config, problems = load_config(taxonomy_dir)  # the default branch's checkout: trusted
    _config_problems(config, problems)
    labels = trial_labels(_trial_settings(config))
    if result_path.is_file():
        try:
            result = read_result(result_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, TrialResultError) as error:
            raise TargetError(f"{result_path}: {error}") from error
        if (result["pull"], result["head"]) != (pull, head):
            raise TargetError(f"{result_path} is for #{result['pull']} at {result['head'][:12]}, not the authorised "
                              f"#{pull} at {head[:12]}; nothing was written")  # fmt: skip
    else:
        result = {"kind": RESULT_KIND, "pull": pull, "head": head, "base": None, "status": FAILED,
                  "verdict": "the trial job ended without a result; see the run's log"}  # fmt: skip
    try:
        bot_login = env.get("TAXBOT_BOT_LOGIN", DEFAULT_BOT_LOGIN)
        posted = post_trial(_repository(env), result, labels, _run_url(env), bot_login)
    except GITHUB_FAILURES as error:
        print(f"taxbot: GitHub: {describe(error)}", file=sys.stderr)
        return EXIT_FINDINGS
    state = "stale (the pull request moved on)" if posted.stale else f"label {posted.label or 'none'}"
    print(f"trial comment on #{posted.pull}: {state}")
    return EXIT_CLEAN


def stale_command(taxonomy_dir: Path) -> int:
    """Mark the trials of pull requests that got a new push since: their comment says so, their label goes."""
    from bot.github.client import GITHUB_FAILURES, describe
    from bot.release.trial import trial_labels
    from bot.release.trial_comment import mark_stale

    env = dict(os.environ)
    config, problems = load_config(taxonomy_dir)
    _config_problems(config, problems)
    labels = trial_labels(_trial_settings(config))
    try:
        marked = mark_stale(_repository(env), labels, env.get("TAXBOT_BOT_LOGIN", DEFAULT_BOT_LOGIN))
    except GITHUB_FAILURES as error:
        print(f"taxbot: GitHub: {describe(error)}", file=sys.stderr)
        return EXIT_FINDINGS
    print(f"stale trials: {', '.join(f'#{n}' for n in marked) or 'none'}")
    return EXIT_CLEAN


def _outputs(env: Mapping[str, str], values: Mapping[str, str]) -> None:
    lines = "".join(f"{key}={value}\n" for key, value in values.items())
    if path := env.get("GITHUB_OUTPUT"):
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(lines)
    print(lines, end="")


def authorize_command(taxonomy_dir: Path) -> int:
    """For an `issue_comment` event: is it `/taxbot trial` on an open pull request, from someone with write access
    (or in a configured team)? Writes `run`, and `pull`, `base`, `head` as the API has them, to $GITHUB_OUTPUT."""
    from bot.github.client import GITHUB_FAILURES, connect, describe, settings_from_env
    from bot.github.commands import Access, is_bot, parse_command

    env = dict(os.environ)
    try:
        event = json.loads(Path(env.get("GITHUB_EVENT_PATH", "")).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise TargetError(f"cannot read the event in GITHUB_EVENT_PATH ({error})") from error
    comment, issue = event.get("comment") or {}, event.get("issue") or {}
    user = comment.get("user") or {}
    login = str(user.get("login", ""))
    command = parse_command(str(comment.get("body", "")))
    if (env.get("GITHUB_EVENT_NAME") != "issue_comment" or is_bot(login, str(user.get("type", "")))
            or not issue.get("pull_request") or command is None or command.name != "trial"):  # fmt: skip
        _outputs(env, {"run": "false"})
        return EXIT_CLEAN
    config, problems = load_config(taxonomy_dir)  # the default branch's checkout: trusted
    _config_problems(config, problems)
    try:
        access = Access.from_config(config.section("github"))
    except ValueError as error:
        raise TargetError(str(error)) from error
    gh = connect(settings_from_env(env))
    try:
        repo = gh.get_repo(env.get("GITHUB_REPOSITORY", ""))

        def role(name: str) -> str:
            try:
                return repo.get_collaborator_permission(name)
            except GITHUB_FAILURES:
                return "none"  # fail closed

        def in_team(org: str, slug: str, name: str) -> bool:
            try:
                return gh.get_organization(org).get_team_by_slug(slug).has_in_members(gh.get_user(name))
            except GITHUB_FAILURES:
                return False  # fail closed

        if not access.allows(login, role, in_team):
            print(f"taxbot: /taxbot trial from {login} refused: it needs write access or a configured team")
            _outputs(env, {"run": "false"})
            return EXIT_CLEAN
        pull = repo.get_pull(int(issue["number"]))
    except GITHUB_FAILURES as error:
        print(f"taxbot: GitHub: {describe(error)}", file=sys.stderr)
        return EXIT_FINDINGS
    if pull.state != "open":
        print(f"taxbot: #{pull.number} is {pull.state}: nothing to try")
        _outputs(env, {"run": "false"})
        return EXIT_CLEAN
    _outputs(env, {"run": "true", "pull": str(pull.number), "base": pull.base.sha, "head": pull.head.sha})
    return EXIT_CLEAN
