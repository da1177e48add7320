"""`.taxbot.yaml` at the taxonomy root: which extra rules are off, and settings for later steps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.taxonomy.findings import RULES, Finding, Severity
from bot.taxonomy.tree import TreeSource
from bot.taxonomy.yamldoc import YamlDocError, read_yaml

CONFIG_NAME = ".taxbot.yaml"
_SECTIONS = ("lint", "similar", "gaps", "teacher", "student", "generate", "github", "release", "gate", "triage",
             "labels", "trial")


@dataclass(frozen=True)
class Config:
    """The parsed config. Sections other than `lint` are kept as plain mappings for their owners."""

    disabled_rules: frozenset[str] = frozenset()
    sections: dict[str, dict[str, object]] = field(default_factory=dict)
    key_lines: dict[str, dict[str, tuple[int, int]]] = field(default_factory=dict)
    """Per section, the line and column of each of its keys, for findings on them."""

    def section(self, name: str) -> dict[str, object]:
        return self.sections.get(name, {})

    def lines(self, name: str) -> dict[str, tuple[int, int]]:
        """Where each key of section `name` is written: `{key: (line, col)}`."""
        return self.key_lines.get(name, {})


def parse_config(text: str, path: str = CONFIG_NAME) -> tuple[Config, list[Finding]]:
    """Read a config; problems come back as findings on the config file, never as a crash."""
    problems: list[Finding] = []

    def problem(severity: Severity, message: str, where: tuple[str | int, ...] = (), key: bool = False) -> None:
        if doc is None:
            line, col = 1, 1
        else:
            line, col = doc.key_position(where) if key else doc.position(where)
        problems.append(Finding(path, line, col, severity, "config", message))

    doc = None
    try:
        doc = read_yaml(text)
    except YamlDocError as error:
        problems.append(Finding(path, error.line, error.col, Severity.ERROR, "config", error.message))
        return Config(), problems
    if doc is None:
        return Config(), problems
    if not isinstance(doc.value, dict):
        problem(Severity.ERROR, "the config must be a mapping of sections (lint, similar, ...)")
        return Config(), problems
    sections: dict[str, dict[str, object]] = {}
    for name, body in doc.value.items():
        if name not in _SECTIONS:
            message = f"unknown section `{name}` is ignored; known: {', '.join(_SECTIONS)}"
            problem(Severity.WARNING, message, (name,), key=True)
        elif not isinstance(body, dict):
            problem(Severity.ERROR, f"section `{name}` must be a mapping", (name,))
        else:
            sections[str(name)] = {str(k): v for k, v in body.items()}
    disabled: set[str] = set()
    lint = sections.get("lint", {})
    for key in lint:
        if key != "disable":
            problem(Severity.WARNING, f"unknown key `lint.{key}` is ignored; known: disable", ("lint", key), True)
    requested = lint.get("disable", [])
    if not isinstance(requested, list):
        problem(Severity.ERROR, "`lint.disable` must be a list of rule ids", ("lint", "disable"))
        requested = []
    for i, rule in enumerate(requested):
        if rule in RULES:
            disabled.add(rule)
        else:
            problem(
                Severity.WARNING,
                f"`{rule}` is not a rule that can be turned off; those are: {', '.join(sorted(RULES))}",
                ("lint", "disable", i),
            )
    key_lines = {
        name: {key: doc.key_position((name, key)) for key in body} for name, body in sections.items()
    }
    return Config(frozenset(disabled), sections, key_lines), problems


def load_config(taxonomy_root: Path) -> tuple[Config, list[Finding]]:
    path = taxonomy_root / CONFIG_NAME
    if not path.is_file():
        return Config(), []
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return Config(), [Finding(CONFIG_NAME, 1, 1, Severity.ERROR, "config", f"cannot read the config: {error}")]
    return parse_config(text)


def config_in(source: TreeSource) -> tuple[Config, list[Finding]]:
    """The config as a tree has it (a commit, usually the base: a pull request cannot reconfigure its review)."""
    entry = source.entry(CONFIG_NAME)
    if entry is None or entry.is_symlink:
        return Config(), []
    return parse_config(entry.read().decode("utf-8", errors="replace"))
