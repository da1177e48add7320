"""`taxbot github`: what the bot does for each GitHub Actions event, read from GITHUB_EVENT_NAME and _PATH."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from github import Github, GithubException
from github.Repository import Repository

from bot.errors import UsageError
from bot.github.client import GITHUB_FAILURES, GitHubError, connect, describe, settings_from_env
from bot.github.commands import EXPENSIVE, Access, is_bot, parse_command
from bot.github.comments import Links, read_state, with_command_log
from bot.github.publish import Target, own_summary, publish_review
from bot.lint.leaf import LintSettings, Profile
from bot.parts import review_parts
from bot.review import Note, Review, build_review, review_from_json
from bot.taxonomy.config import config_in
from bot.taxonomy.diff import changed_leaves
from bot.taxonomy.tree import git_source, open_repo, resolve_commit

MAX_REPORT_BYTES = 20_000_000
DEFAULT_BOT_LOGIN = "github-actions[bot]"


class EventError(UsageError):
    """The event or the report handed to `taxbot github` is not what it should be."""


@dataclass
class Run:
    """One `taxbot github` invocation: the event, the environment, the checkout, and where to log."""

    event_name: str
    event: dict[str, Any]
    env: Mapping[str, str]
    taxonomy: Path
    log: Callable[[str], None]

    @property
    def bot_login(self) -> str:
        return self.env.get("TAXBOT_BOT_LOGIN", DEFAULT_BOT_LOGIN)

    def links(self) -> Links:
        server, repo, run_id = (self.env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
        report = f"{server}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None
        return Links(self.event.get("repository", {}).get("html_url"), report)


def load_event(env: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    name, path = env.get("GITHUB_EVENT_NAME"), env.get("GITHUB_EVENT_PATH")
    if not name or not path:
        raise EventError("GITHUB_EVENT_NAME and GITHUB_EVENT_PATH are not set: `taxbot github` runs inside Actions")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise EventError(f"cannot read the event at {path}: {error}") from error
    if not isinstance(event, dict):
        raise EventError(f"the event at {path} is not a JSON object")
    return name, event


def make_review(taxonomy: Path, base: str, head: str, env: Mapping[str, str], *, teacher: bool,
                profile: Profile = Profile.STRICT, only: Collection[str] | None = None,
                ) -> tuple[Review, dict[str, list[str]]]:  # fmt: skip
    """The review of base..head (its parts limited to `only` when given), and the head's text of each
    changed leaf (for suggestions)."""
    repo, _ = open_repo(taxonomy)
    base, head = resolve_commit(repo, base).hexsha, resolve_commit(repo, head).hexsha
    change_set = changed_leaves(taxonomy, base, head)
    config = config_in(change_set.base)[0]
    parts, notes = review_parts(config, env, teacher=teacher)
    if only is not None:
        parts = {name: part for name, part in parts.items() if name in only}
    review = build_review(change_set, LintSettings(profile, config.disabled_rules), parts, base, head)
    review.notes += [Note("review", n) for n in notes]
    lines = {}
    for change in change_set.present:
        entry = change_set.head.entry(change.path)
        if entry is not None and not entry.is_symlink:
            lines[change.path] = entry.read().decode("utf-8", errors="replace").splitlines()
    return review, lines


def _pull_numbers(event: dict[str, Any]) -> tuple[int, str, str]:
    pull = event.get("pull_request")
    if not isinstance(pull, dict):
        raise EventError("the event has no pull_request")
    return int(pull["number"]), str(pull["base"]["sha"]), str(pull["head"]["sha"])


def _target(gh: Github, run: Run, number: int) -> Target:
    repo = gh.get_repo(run.env.get("GITHUB_REPOSITORY") or run.event["repository"]["full_name"])
    return Target(repo, repo.get_pull(number), run.bot_login, run.links())


def on_pull_request(run: Run, report_out: Path | None) -> int:
    """Review the pull request; with `report_out`, only write the report (the untrusted, secret-less run)."""
    number, base, head = _pull_numbers(run.event)
    review, lines = make_review(run.taxonomy, base, head, run.env, teacher=report_out is None)
    review.pull_request = number
    errors, warnings = review.counts()
    run.log(f"taxbot: pull request #{number}: {errors} error(s), {warnings} warning(s)")
    if report_out is not None:
        report_out.write_text(json.dumps(review.to_json()), encoding="utf-8")
        run.log(f"taxbot: report written to {report_out}")
        return 0
    gh = connect(settings_from_env(run.env))
    publish_review(_target(gh, run, number), review, lines, run.log)
    return 0


def on_report(run: Run, report: Path) -> int:
    """Publish a report that an untrusted run uploaded: validated as data before anything is written."""
    if report.stat().st_size > MAX_REPORT_BYTES:
        raise EventError(f"the report is larger than {MAX_REPORT_BYTES:,} bytes; refusing it")
    try:
        review = review_from_json(json.loads(report.read_text(encoding="utf-8")))
    except ValueError as error:
        raise EventError(f"the report is not valid JSON: {error}") from error
    if review.pull_request is None:
        raise EventError("the report names no pull request")
    gh = connect(settings_from_env(run.env))
    target = _target(gh, run, review.pull_request)
    if target.pull.head.sha != review.head:
        run.log(
            f"taxbot: the report is for {review.head[:12]}, the pull request is at {target.pull.head.sha[:12]}: "
            "a newer run will review it"
        )
        return 0
    # The report already holds lint, duplicates and gaps: only the parts that call models run here.
    teacher_review, lines = make_review(
        run.taxonomy, review.base, review.head, run.env, teacher=True, only={"samples", "precheck"}
    )
    review.samples, review.notes = teacher_review.samples, [n for n in review.notes if n.part != "review"]
    review.notes += teacher_review.notes
    publish_review(target, review, lines, run.log)
    return 0


def _role(repo: Repository) -> Callable[[str], str]:
    def role(login: str) -> str:
        try:
            return repo.get_collaborator_permission(login)
        except GITHUB_FAILURES:
            return "none"  # fail closed

    return role


def _in_team(gh: Github) -> Callable[[str, str, str], bool]:
    def in_team(org: str, slug: str, login: str) -> bool:
        try:
            return gh.get_organization(org).get_team_by_slug(slug).has_in_members(gh.get_user(login))
        except GITHUB_FAILURES:
            return False  # fail closed

    return in_team


def on_comment(run: Run) -> int:
    """A `/taxbot` command in a pull request comment: authorised, answered with a reaction and in the summary."""
    comment, issue = run.event.get("comment", {}), run.event.get("issue", {})
    user = comment.get("user", {})
    login = str(user.get("login", ""))
    if is_bot(login, str(user.get("type", ""))) or not issue.get("pull_request"):
        return 0  # the bot's own comments, other bots', and plain issues are not for it
    command = parse_command(str(comment.get("body", "")))
    if command is None:
        return 0
    gh = connect(settings_from_env(run.env))
    target = _target(gh, run, int(issue["number"]))
    posted = target.repo.get_issue(target.pull.number).get_comment(int(comment["id"]))
    base, head = target.pull.base.sha, target.pull.head.sha
    config = config_in(git_source(run.taxonomy, base))[0]
    summary = own_summary(target)
    state = read_state(summary.body) if summary else {}
    fork = target.pull.head.repo is None or target.pull.head.repo.full_name != target.repo.full_name

    def answer(reaction: str, entry: str, state_update: dict[str, object] | None = None) -> int:
        posted.create_reaction(reaction)
        body = with_command_log(summary.body if summary else "", f"{login}: /taxbot {command.name}: {entry}",
                                state_update)  # fmt: skip
        if summary is not None:
            summary.edit(body)
        else:
            target.pull.create_issue_comment(body)
        return 0

    if command.name == "help":
        return answer("+1", "commands are help, review, generate, precheck, approve and trial")
    if not Access.from_config(config.section("github")).allows(login, _role(target.repo), _in_team(gh)):
        return answer("-1", "refused: commands need write access or membership of a configured team")
    if command.name == "approve":
        return answer("+1", f"teacher calls approved for `{head[:12]}`", {"approved": head})
    if command.name == "trial":  # the taxonomy-trial workflow runs it on the GPU runner and posts its own comment
        return answer("eyes", f"a trial of `{head[:12]}` runs in the trial workflow")
    if command.name in EXPENSIVE and fork and state.get("approved") != head:
        return answer("confused", f"waiting for a maintainer's `/taxbot approve` for `{head[:12]}` (a fork)")
    posted.create_reaction("rocket")
    review, lines = make_review(run.taxonomy, base, head, run.env, teacher=command.name in EXPENSIVE)
    review.pull_request = target.pull.number
    publish_review(target, review, lines, run.log)
    summary = own_summary(target)
    if summary is not None:
        summary.edit(with_command_log(summary.body, f"{login}: /taxbot {command.name}: done"))
    return 0


def on_push(run: Run) -> int:
    ref, default = run.event.get("ref", ""), run.event.get("repository", {}).get("default_branch")
    if ref != f"refs/heads/{default}":
        run.log(f"taxbot: push to {ref} is not the default branch; no release")
        return 0
    run.log(f"taxbot: merge to {default} at {run.event.get('after', '')[:12]}: the release workflow trains it")
    return 0


def run_github(env: Mapping[str, str], taxonomy: Path, report: Path | None, report_out: Path | None) -> int:
    name, event = load_event(env)
    run = Run(name, event, env, taxonomy, lambda line: print(line, file=sys.stdout, flush=True))
    try:
        if report is not None:
            return on_report(run, report)
        if name in ("pull_request", "pull_request_target"):
            return on_pull_request(run, report_out)
        if name == "issue_comment":
            return on_comment(run)
        if name == "push":
            return on_push(run)
    except GithubException as error:
        raise GitHubError(describe(error)) from error
    run.log(f"taxbot: nothing to do for a {name} event")
    return 0
