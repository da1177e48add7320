"""The `release:` and `gate:` sections of `.taxbot.yaml`, checked in one pass: every problem in one error."""

from __future__ import annotations

import re
import string
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from bot.release.gate import METRICS, GateSettings

_HUB_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_LICENCE = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_REF_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")  # safe as a git tag and as a Hub branch or tag
_PLACEHOLDERS = ("date", "short_sha", "sha")


class SettingsError(Exception):
    """`release:` or `gate:` in .taxbot.yaml is wrong; the message lists every problem, `problems` holds them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in .taxbot.yaml:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class ReleaseSettings:
    """Where a release goes and how it is named; `hub_repo` and `base_model` have no default."""

    hub_repo: str
    base_model: str  # what every release trains from: a Hub name or a local save_pretrained folder
    base_model_id: str | None = None  # the Hub id a local `base_model` folder stands for, for the model card
    license: str = "apache-2.0"  # the Hub's licence id for the model card
    train_config: str | None = None  # a trainer YAML, relative to the taxonomy root; None: the shipped phase2.yaml
    train_overrides: tuple[str, ...] = ()  # dotted.key=value, as `taxbot train` takes them
    train_processes: int = 0  # training processes (torchrun ranks); 0: one per visible GPU, one on a CPU
    per_leaf: int = 100  # generated pairs per leaf
    tag: str = "v{date}-{short_sha}"
    candidate_branch: str = "candidate-{short_sha}"
    datasets: tuple[str, ...] = ()  # Hub dataset ids for the card's front matter
    card_tags: tuple[str, ...] = ()
    github_repo: str | None = None  # owner/name of the taxonomy on GitHub; None: $GITHUB_REPOSITORY


def render_scheme(scheme: str, sha: str, date: str) -> str:
    """A tag or branch name from its scheme: `{date}` (YYYYMMDD), `{short_sha}` (7 hex), `{sha}`."""
    return scheme.format(date=date, short_sha=sha[:7], sha=sha)


def _scheme_problems(key: str, scheme: str) -> list[str]:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(scheme) if name is not None]
    except ValueError as error:
        return [f"`{key}` is not a valid scheme ({error}); e.g. v{{date}}-{{short_sha}}"]
    unknown = sorted(set(names) - set(_PLACEHOLDERS))
    if unknown:
        return [f"`{key}` has unknown placeholder(s) {', '.join(unknown)}; known: {', '.join(_PLACEHOLDERS)}"]
    if "short_sha" not in names and "sha" not in names:
        return [f"`{key}` must contain {{short_sha}} or {{sha}}, so each taxonomy commit gets its own name"]
    sample = render_scheme(scheme, "0" * 40, "20250101")
    if not _REF_NAME.match(sample) or ".." in sample or sample.endswith((".", ".lock")):
        return [f"`{key}` gives {sample!r}, not a valid tag or branch name (letters, digits, . _ -)"]
    return []


def _typed(section: str, raw: Mapping[str, object], kinds: Mapping[str, type], problems: list[str]) -> dict[str, Any]:
    values: dict[str, object] = {}
    for key, kind in kinds.items():
        if key not in raw or raw[key] is None:
            continue
        value = raw[key]
        if kind is tuple:
            if isinstance(value, list) and all(isinstance(item, str) for item in value):
                values[key] = tuple(value)
            else:
                problems.append(f"`{section}.{key}` must be a list of strings, found {value!r}")
        elif kind is float and isinstance(value, int | float) and not isinstance(value, bool):
            values[key] = float(value)
        elif isinstance(value, kind) and (kind is bool or not isinstance(value, bool)):
            values[key] = value
        else:
            expected = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}[kind]
            problems.append(f"`{section}.{key}` must be {expected}, found {value!r}")
    return values


def _kinds(cls: type) -> dict[str, type]:
    """Each field's value type from its annotation: `X | None` reads as X, `tuple[str, ...]` as tuple."""
    kinds = {}
    for name, hint in typing.get_type_hints(cls).items():
        inner = (
            [a for a in typing.get_args(hint) if a is not type(None)] if isinstance(hint, types.UnionType) else [hint]
        )
        kinds[name] = typing.get_origin(inner[0]) or inner[0]
    return kinds


def _release_problems(settings: ReleaseSettings) -> list[str]:
    problems = []
    if settings.hub_repo and not _HUB_REPO.match(settings.hub_repo):
        problems.append(f"`release.hub_repo` must be owner/name, found {settings.hub_repo!r}")
    if not _LICENCE.match(settings.license):
        problems.append(f"`release.license` must be the Hub's licence id, e.g. apache-2.0, found {settings.license!r}")
    problems += _scheme_problems("release.tag", settings.tag)
    problems += _scheme_problems("release.candidate_branch", settings.candidate_branch)
    if settings.train_processes < 0:
        problems.append("`release.train_processes` must be 0 (one per visible GPU) or more")
    if settings.base_model_id and not _HUB_REPO.match(settings.base_model_id):
        problems.append(f"`release.base_model_id` must be a Hub id (owner/name), found {settings.base_model_id!r}")
    if settings.per_leaf < 1:
        problems.append("`release.per_leaf` must be at least 1")
    if bad := [o for o in settings.train_overrides if "=" not in o]:
        problems.append(f"`release.train_overrides` must be dotted.key=value items, found {bad}")
    return problems


def _gate_problems(settings: GateSettings) -> list[str]:
    problems = []
    if settings.metric not in METRICS:
        problems.append(f"`gate.metric` must be one of {', '.join(METRICS)}, found {settings.metric!r}")
    if not 0 < settings.min_gain <= 1:
        problems.append("`gate.min_gain` must be above 0 and at most 1: at 0 a candidate equal to the previous passes")
    if not 0 <= settings.max_regression <= 1:
        problems.append("`gate.max_regression` must be between 0 and 1")
    if settings.kept_leaves < 0:
        problems.append("`gate.kept_leaves` must not be negative")
    if not 0 <= settings.safety_margin <= 1:
        problems.append("`gate.safety_margin` must be between 0 and 1")
    if settings.examples < 0:
        problems.append("`gate.examples` must not be negative")
    if bool(settings.judge_url) != bool(settings.judge_model):
        problems.append("`gate.judge_url` and `gate.judge_model` go together: set both, or neither for the teacher")
    if settings.max_new_tokens < 1:
        problems.append("`gate.max_new_tokens` must be at least 1")
    return problems


def read_settings(
    release: Mapping[str, object], gate: Mapping[str, object]
) -> tuple[ReleaseSettings, GateSettings, list[str]]:
    """Both sections as settings, and warnings for unknown keys. Raises SettingsError listing every problem."""
    problems: list[str] = []
    warnings: list[str] = []
    for section, raw, cls in (("release", release, ReleaseSettings), ("gate", gate, GateSettings)):
        known = [f.name for f in fields(cls)]
        warnings += [f"unknown key `{section}.{key}` is ignored; known: {', '.join(known)}"
                     for key in raw if key not in known]  # fmt: skip
    typed_release = _typed("release", release, _kinds(ReleaseSettings), problems)
    typed_gate = _typed("gate", gate, _kinds(GateSettings), problems)
    for key, example in (("hub_repo", "my-org/taxonomy-model"), ("base_model", "ibm-granite/granite-7b-base")):
        if key not in typed_release and key not in release:
            problems.append(f"`release.{key}` is required (e.g. {key}: {example})")
    # Values that failed their type check keep their defaults, so the value checks below still run.
    settings = ReleaseSettings(**{"hub_repo": "", "base_model": "", **typed_release})
    gate_settings = GateSettings(**typed_gate)
    problems += _release_problems(settings) + _gate_problems(gate_settings)
    if problems:
        raise SettingsError(problems)
    return settings, gate_settings, warnings
