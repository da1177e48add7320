"""The triage labels of a pull request, kept in step with its review: the kind of leaf, whether samples were
made, whether a triager still has to look, and one label per open triage check. Only labels the bot set
itself are ever removed."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from github.PullRequest import PullRequest

from bot.parts import NOTHING_KEPT
from bot.review import Review
from bot.taxonomy.config import config_in
from bot.taxonomy.tree import git_source
from bot.triage.check import open_checks
from bot.triage.hits import Check

# `labels:` in .taxbot.yaml: `enabled`, and a name for each label the bot may set.
_FIXED = {"skill": "skill", "knowledge": "knowledge", "precheck_generate_ready": "precheck-generate-ready",
          "sdg_unsuccessful": "sdg-unsuccessful", "triage_needed": "triage-needed"}  # fmt: skip


def _check_key(check: Check) -> str:
    return check.value.removeprefix("triage/").replace("-", "_")  # triage/personal-data -> personal_data


@dataclass(frozen=True)
class LabelSettings:
    enabled: bool = True
    names: dict[str, str] = field(
        default_factory=lambda: {**_FIXED, **{_check_key(c): c.value.replace("/", "-") for c in Check}}
    )

    def owned(self) -> set[str]:
        """Every label the bot may set, so the only ones it may take off again."""
        return set(self.names.values())


def label_settings(section: Mapping[str, object]) -> tuple[LabelSettings, list[str]]:
    """Label names from `.taxbot.yaml`; a bad value keeps the default name and says why."""
    defaults = LabelSettings()
    names, problems = dict(defaults.names), []
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"`labels.enabled` must be true or false, found {enabled!r}")
        enabled = True
    for key, value in section.items():
        if key == "enabled":
            continue
        if key not in names:
            problems.append(f"unknown key `labels.{key}` is ignored; known: enabled, {', '.join(names)}")
        elif not isinstance(value, str) or not value.strip() or len(value) > 50:
            problems.append(f"`labels.{key}` must be a label name of 1 to 50 characters, found {value!r}")
        else:
            names[key] = value.strip()
    return LabelSettings(enabled, names), problems


def labels_at(taxonomy: Path, base: str) -> LabelSettings:
    """The label settings of the base commit's config (a pull request cannot rename the bot's labels)."""
    return label_settings(config_in(git_source(taxonomy, base))[0].section("labels"))[0]


def wanted_labels(review: Review, settings: LabelSettings) -> set[str]:
    """The labels the review calls for: kinds of the changed leaves, sample state, open triage checks, and
    `triage-needed` (the community triage guide's label) while a triager still has to look: a triage check
    is open, or triage did not run for this head (it failed, or was left out), so nothing has been checked."""
    names = settings.names
    wanted = set()
    for change in review.changes:
        if change.status != "deleted":
            top = PurePosixPath(change.path).parts[0] if PurePosixPath(change.path).parts else ""
            wanted.add(names["knowledge"] if top == "knowledge" else names["skill"])
    if review.verdict == "pass" and review.samples:
        wanted.add(names["precheck_generate_ready"])
    if any(note.part == "samples" and NOTHING_KEPT in note.message for note in review.notes):
        wanted.add(names["sdg_unsuccessful"])
    rows = review.parts.get("triage")
    checks = open_checks(rows)
    wanted |= {names[_check_key(check)] for check in checks}
    if review.changes and (checks or not isinstance(rows, list)):
        wanted.add(names["triage_needed"])
    return wanted


def sync_labels(pull: PullRequest, review: Review, settings: LabelSettings, owned_before: Collection[str]) -> list[str]:
    """Add the wanted labels that are missing; remove the bot's own labels that are no longer wanted. A label
    a person set, even one of the bot's names, is never removed. Returns the labels the bot now owns."""
    current = {label.name for label in pull.get_labels()}
    wanted = wanted_labels(review, settings)
    mine = set(owned_before) & current & settings.owned()
    add = sorted(wanted - current)
    remove = sorted(mine - wanted)
    if add:
        pull.add_to_labels(*add)
    for name in remove:
        pull.remove_from_labels(name)
    return sorted((mine - set(remove)) | set(add))
