"""Triage labels against the fake GitHub: the bot's labels follow the review, a person's labels stay."""

from __future__ import annotations

import subprocess
import sys

from bot.github.client import GitHubSettings, connect
from bot.github.comments import Links, read_state
from bot.github.labels import LabelSettings, label_settings, wanted_labels
from bot.github.publish import Target, own_summary, publish_review
from bot.parts import NOTHING_KEPT
from bot.review import Note, Review, Sample
from bot.taxonomy.diff import ChangeStatus, LeafChange
from bot.taxonomy.findings import Finding, Severity
from tests.conftest import subprocess_env
from tests.fakes.github_server import FakeGitHub
from tests.fakes.github_state import added_file
from tests.leaves import ATTRIBUTION, freeform_skill

REPO = "community/taxonomy"
SKILL = "compositional_skills/mail/qna.yaml"
KNOWLEDGE = "knowledge/lakes/qna.yaml"


def triage_row(check: str, level: str = "warning") -> dict[str, object]:
    return {"leaf": SKILL, "line": 6, "check": check, "level": level, "found": "x", "by": "test"}


def review(head: str, paths: list[str], rows: list[dict[str, object]], **extra: object) -> Review:
    changes = [LeafChange(p, ChangeStatus.ADDED) for p in paths]
    return Review("0" * 40, head, changes, [], parts={"triage": rows}, **extra)  # type: ignore[arg-type]


def test_the_labels_a_review_calls_for() -> None:
    names = LabelSettings()
    sample = Sample(SKILL, "q", "a", 3)
    rows = [triage_row("triage/abuse"), triage_row("triage/machine-written", "note")]
    assert wanted_labels(review("1" * 40, [SKILL], rows, samples=[sample]), names) == {
        "skill", "precheck-generate-ready", "triage-abuse", "triage-needed"}  # fmt: skip
    failing = review("1" * 40, [KNOWLEDGE], [], samples=[sample])
    failing.findings.append(Finding(KNOWLEDGE, 1, 1, Severity.ERROR, "schema", "bad"))
    failing.notes.append(Note("samples", f"{KNOWLEDGE}: {NOTHING_KEPT}"))
    assert wanted_labels(failing, names) == {"knowledge", "sdg-unsuccessful"}  # triage ran and is clean
    untriaged = review("1" * 40, [SKILL], [])
    del untriaged.parts["triage"]  # the triage part failed or was left out: nothing has been checked yet
    assert wanted_labels(untriaged, names) == {"skill", "triage-needed"}
    assert wanted_labels(review("1" * 40, [], []), names) == set()  # no leaf changed: nothing to triage


def test_names_come_from_the_config_and_bad_ones_keep_the_default() -> None:
    settings, problems = label_settings({"abuse": "needs abuse review", "skill": "", "colour": "red"})
    assert settings.names["abuse"] == "needs abuse review" and settings.names["skill"] == "skill"
    assert len(problems) == 2 and any("unknown key `labels.colour`" in p for p in problems)
    assert label_settings({"enabled": False})[0].enabled is False


def test_only_the_bots_own_labels_move(github_server: FakeGitHub) -> None:
    pull = github_server.state.add_pull(REPO, [added_file(SKILL, "a: 1\n")], labels=["skill", "help wanted"])
    gh = connect(GitHubSettings(github_server.token, github_server.url, retries=0, backoff_s=0, pause_s=None,
                                write_pause_s=None))  # fmt: skip
    repo = gh.get_repo(REPO)
    target = Target(repo, repo.get_pull(pull.number), "github-actions[bot]", Links())
    settings = label_settings({"abuse": "needs abuse review"})[0]

    first = review(pull.head_sha, [SKILL], [triage_row("triage/abuse"), triage_row("triage/secret")])
    assert publish_review(target, first, {}, lambda _: None, settings)
    assert set(pull.labels) == {"skill", "help wanted", "needs abuse review", "triage-secret", "triage-needed"}
    assert read_state(own_summary(target).body)["labels"] == ["needs abuse review", "triage-needed", "triage-secret"]

    pull.labels.append("triage-personal-data")  # a person adds one of the bot's names by hand
    second = review(pull.head_sha, [KNOWLEDGE], [triage_row("triage/secret")])
    assert publish_review(target, second, {}, lambda _: None, settings)
    # The abuse label the bot set is gone; the person's `skill` and `triage-personal-data` stay.
    assert set(pull.labels) == {"skill", "help wanted", "triage-secret", "knowledge", "triage-personal-data",
                                "triage-needed"}  # fmt: skip
    assert read_state(own_summary(target).body)["labels"] == ["knowledge", "triage-needed", "triage-secret"]

    clean = review(pull.head_sha, [KNOWLEDGE], [triage_row("triage/secret", "note")])
    assert publish_review(target, clean, {}, lambda _: None, settings)
    # The bot's triage is clean: its `triage-needed` and `triage-secret` go; what the person set stays.
    assert set(pull.labels) == {"skill", "help wanted", "knowledge", "triage-personal-data"}

    pull.labels.append("triage-needed")  # a triager asks for a look by hand: the bot's clean triage leaves it
    assert publish_review(target, clean, {}, lambda _: None, settings)
    assert "triage-needed" in pull.labels

    off = LabelSettings(enabled=False)
    assert publish_review(target, review(pull.head_sha, [], []), {}, lambda _: None, off)
    assert "knowledge" in pull.labels  # labels off: nothing moves


def test_labels_github_refuses_are_a_note_and_the_summary_still_posts(github_server: FakeGitHub) -> None:
    pull = github_server.state.add_pull(REPO, [added_file(SKILL, "a: 1\n")])
    gh = connect(GitHubSettings(github_server.token, github_server.url, retries=0, backoff_s=0, pause_s=None,
                                write_pause_s=None))  # fmt: skip
    repo = gh.get_repo(REPO)
    target = Target(repo, repo.get_pull(pull.number), "github-actions[bot]", Links())
    github_server.fail(1, status=403, method="POST", path=r"/issues/\d+/labels$")
    the_review = review(pull.head_sha, [SKILL], [triage_row("triage/abuse")])
    assert publish_review(target, the_review, {}, lambda _: None, LabelSettings())
    assert pull.labels == []
    assert "labels could not be set" in own_summary(target).body


def test_a_pull_request_run_sets_the_labels_the_base_config_names(taxonomy_repo, github_server, github_event) -> None:
    leaf = "compositional_skills/mail/notes/qna.yaml"
    text = freeform_skill().replace("answer: 2 plus 2 is 4.", "answer: 2 plus 2 is 4, says maria.garcia17@gmail.com.")
    base = taxonomy_repo.commit_files({".taxbot.yaml": "labels:\n  skill: 'kind: skill'\n"})
    head = taxonomy_repo.commit_files({leaf: text, leaf.replace("qna.yaml", "attribution.txt"): ATTRIBUTION})
    github_server.state.add_repo(REPO)
    pull = github_server.state.add_pull(REPO, [added_file(leaf, text)], head_sha=head, base_sha=base,
                                        labels=["help wanted"])  # fmt: skip
    github_event("pull_request.opened", REPO, pull.number)
    result = subprocess.run([sys.executable, "-m", "bot", "github", "--taxonomy", taxonomy_repo.working_dir],
                            capture_output=True, text=True, env=subprocess_env(TAXBOT_GITHUB_PAUSE_S="0"),
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert set(pull.labels) == {"help wanted", "kind: skill", "triage-personal-data", "triage-needed"}
