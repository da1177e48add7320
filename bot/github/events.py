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
from bot.github.client import DEFAULT_BOT_LOGIN, GitHubError, connect, create_once, describe, settings_from_env
from bot.github.commands import EXPENSIVE, Access, is_bot, parse_command
from bot.github.comments import Links, read_state, with_command_log
from bot.github.labels import label_settings, labels_at
from bot.github.publish import Target, own_summary, publish_review
from bot.github.trust import (
    SHA,
    NotForUs,
    approval_in,
    approved_head,
    is_fork,
    may_command,
    pulls_for_run,
    run_head,
)
from bot.lint.leaf import LintSettings, Profile
from bot.parts import review_parts
from bot.review import Note, Review, build_review, review_from_json
from bot.taxonomy.config import config_in
from bot.taxonomy.diff import changed_leaves
from bot.taxonomy.tree import git_source, open_repo, resolve_commit

MAX_REPORT_BYTES = 20_000_000


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
                config_commit: str | None = None) -> tuple[Review, dict[str, list[str]]]:  # fmt: skip
    """The review of base..head (its parts limited to `only` when given), and the head's text of each
    changed leaf (for suggestions). The head is read as data, never run. `.taxbot.yaml` comes from
    `config_commit` when given (the trusted run: the default branch), else from the base."""
    repo, _ = open_repo(taxonomy)
    base, head = resolve_commit(repo, base).hexsha, resolve_commit(repo, head).hexsha
    change_set = changed_leaves(taxonomy, base, head)
    config = config_in(change_set.base if config_commit is None else git_source(taxonomy, config_commit))[0]
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


def trusted_commit(run: Run) -> str:
    """The default branch's commit this trusted run checked out (GITHUB_SHA of a `workflow_run` or an
    `issue_comment` event is the default branch's head): the only place configuration is read from."""
    sha = run.env.get("GITHUB_SHA", "")
    return sha if SHA.match(sha) else "HEAD"


def _pull_numbers(event: dict[str, Any]) -> tuple[int, str, str]:
    pull = event.get("pull_request")
    if not isinstance(pull, dict):
        raise EventError("the event has no pull_request")
    return int(pull["number"]), str(pull["base"]["sha"]), str(pull["head"]["sha"])


def _repo(gh: Github, run: Run) -> Repository:
    return gh.get_repo(run.env.get("GITHUB_REPOSITORY") or run.event["repository"]["full_name"])


def _target(gh: Github, run: Run, number: int) -> Target:
    repo = _repo(gh, run)
    return Target(repo, repo.get_pull(number), run.bot_login, run.links())


def on_pull_request(run: Run, report_out: Path | None) -> int:
    """Review the pull request as the untrusted run does: no teacher, no student, nothing that spends a
    secret. With `report_out` only the report is written; without, the review is written to the pull request
    as far as the run's token allows (a fork's read-only token: the Actions log)."""
    number, base, head = _pull_numbers(run.event)
    review, lines = make_review(run.taxonomy, base, head, run.env, teacher=False)
    review.pull_request = number
    errors, warnings = review.counts()
    run.log(f"taxbot: pull request #{number}: {errors} error(s), {warnings} warning(s)")
    if report_out is not None:
        report_out.write_text(json.dumps(review.to_json()), encoding="utf-8")
        run.log(f"taxbot: report written to {report_out}")
        return 0
    gh = connect(settings_from_env(run.env))
    publish_review(_target(gh, run, number), review, lines, run.log, labels_at(run.taxonomy, base))
    return 0


def _check_hint(run: Run, report: Path | None, pulls: list[int], head: str) -> None:
    """The untrusted run's report, if one was handed over, is a hint and nothing more: it must be valid and
    agree with what GitHub says, and the review is recomputed whatever it says."""
    if report is None:
        return
    if report.stat().st_size > MAX_REPORT_BYTES:
        raise EventError(f"the report is larger than {MAX_REPORT_BYTES:,} bytes; refusing it")
    try:
        hint = review_from_json(json.loads(report.read_text(encoding="utf-8")))
    except ValueError as error:
        raise EventError(f"the report is not valid JSON: {error}") from error
    if hint.head != head or hint.pull_request not in pulls:
        run.log(f"taxbot: the uploaded report names pull request {hint.pull_request} at {hint.head[:12]}, GitHub "
                f"says {pulls} at {head[:12]}: the report is ignored")  # fmt: skip


def on_workflow_run(run: Run, report: Path | None) -> int:
    """The trusted half of a review, after the untrusted `pull_request` run completed. Nothing that run
    produced is believed: the pull request, its head and base come from GitHub (the event's head commit and
    repository, the pull request's own base), the head is read as data, the configuration comes from the
    default branch, and the whole review is recomputed here."""
    try:
        head = run_head(run.event)
    except NotForUs as why:
        run.log(f"taxbot: {why}; nothing to publish")
        return 0
    gh = connect(settings_from_env(run.env))
    repo = _repo(gh, run)
    listed = [int(p["number"]) for p in run.event["workflow_run"].get("pull_requests") or [] if "number" in p]
    pulls = pulls_for_run(repo, head, listed)
    _check_hint(run, report, [p.number for p in pulls], head.sha)
    if not pulls:
        run.log(f"taxbot: no open pull request has head {head.sha[:12]} from {head.repository}; nothing to publish")
        return 0
    config_commit = trusted_commit(run)
    config = config_in(git_source(run.taxonomy, config_commit))[0]
    access = Access.from_config(config.section("github"))
    for pull in pulls:
        target = Target(repo, pull, run.bot_login, run.links())
        summary = own_summary(target)
        waiting = None
        if is_fork(repo, pull):
            allowed = may_command(access.allows, repo, gh, run.log)
            waiting = approved_head(repo, pull, read_state(summary.body) if summary else {}, allowed)
        review, lines = make_review(run.taxonomy, pull.base.sha, head.sha, run.env, teacher=waiting is None,
                                    config_commit=config_commit)  # fmt: skip
        review.pull_request = pull.number
        if waiting is not None:
            review.notes = [n for n in review.notes if n.part != "review"]
            review.notes.append(Note("review", f"sample pairs and the precheck wait for {waiting}"))
        errors, warnings = review.counts()
        run.log(f"taxbot: pull request #{pull.number} at {head.sha[:12]}: {errors} error(s), {warnings} warning(s)")
        publish_review(target, review, lines, run.log, label_settings(config.section("labels"))[0])
    return 0


def on_comment(run: Run) -> int:
    """A `/taxbot` command in a pull request comment: authorised, answered with a reaction and in the summary.

    Only a new comment commands: an edited or deleted one commands nothing, and if it was the approval, the
    approval is withdrawn."""
    comment, issue = run.event.get("comment", {}), run.event.get("issue", {})
    user = comment.get("user", {})
    login = str(user.get("login", ""))
    if is_bot(login, str(user.get("type", ""))) or not issue.get("pull_request"):
        return 0  # the bot's own comments, other bots', and plain issues are not for it
    action = run.event.get("action", "created")
    command = parse_command(str(comment.get("body", "")))
    if action != "created":
        return _withdraw_approval(run, int(issue["number"]), int(comment["id"]), login, action)
    if command is None:
        return 0
    gh = connect(settings_from_env(run.env))
    target = _target(gh, run, int(issue["number"]))
    posted = target.repo.get_issue(target.pull.number).get_comment(int(comment["id"]))
    base, head = target.pull.base.sha, target.pull.head.sha
    config_commit = trusted_commit(run)
    config = config_in(git_source(run.taxonomy, config_commit))[0]
    summary = own_summary(target)
    state = read_state(summary.body) if summary else {}
    access = Access.from_config(config.section("github"))
    allowed = may_command(access.allows, target.repo, gh, run.log)

    def answer(reaction: str, entry: str, state_update: dict[str, object] | None = None) -> int:
        posted.create_reaction(reaction)
        body = with_command_log(summary.body if summary else "", f"{login}: /taxbot {command.name}: {entry}",
                                state_update)  # fmt: skip
        if summary is not None:
            summary.edit(body)
        else:
            create_once(lambda: target.pull.create_issue_comment(body), lambda: own_summary(target))
        return 0

    if command.name == "help":
        return answer("+1", "commands are help, review, generate, precheck, approve and trial")
    if not allowed(login):
        return answer("-1", "refused: commands need write access or membership of a configured team")
    if command.name == "approve":
        named = approval_in(str(comment.get("body", "")))
        if named != head:
            return answer("confused", f"not approved: name the head commit in full, `/taxbot approve {head}`")
        return answer("+1", f"teacher calls approved for `{head[:12]}`",
                      {"approved": head, "approval": int(comment["id"])})  # fmt: skip
    if command.name == "trial":  # the taxonomy-trial workflow runs it on the GPU runner and posts its own comment
        return answer("eyes", f"a trial of `{head[:12]}` runs in the trial workflow")
    fork = is_fork(target.repo, target.pull)
    waiting = approved_head(target.repo, target.pull, state, allowed) if fork else None
    if command.name in EXPENSIVE and waiting is not None:
        return answer("confused", f"waiting for {waiting}")
    posted.create_reaction("rocket")
    review, lines = make_review(run.taxonomy, base, head, run.env, teacher=command.name in EXPENSIVE,
                                config_commit=config_commit)  # fmt: skip
    review.pull_request = target.pull.number
    publish_review(target, review, lines, run.log, label_settings(config.section("labels"))[0])
    summary = own_summary(target)
    if summary is not None:
        summary.edit(with_command_log(summary.body, f"{login}: /taxbot {command.name}: done"))
    return 0


def _withdraw_approval(run: Run, number: int, comment_id: int, login: str, action: str) -> int:
    """An edited or deleted comment commands nothing; if it was the recorded approval, the approval goes."""
    gh = connect(settings_from_env(run.env))
    target = _target(gh, run, number)
    summary = own_summary(target)
    state = read_state(summary.body) if summary else {}
    if summary is None or state.get("approval") != comment_id:
        run.log(f"taxbot: a comment was {action}; an {action} comment commands nothing")
        return 0
    summary.edit(with_command_log(summary.body, f"{login}: the approving comment was {action}: approval withdrawn",
                                  {"approved": None, "approval": None}))  # fmt: skip
    run.log(f"taxbot: the approving comment was {action}; the approval is withdrawn")
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
        if name == "workflow_run" or report is not None:
            return on_workflow_run(run, report)
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
