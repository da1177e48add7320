"""The one neutral finding type: everything taxbot says about a file is a Finding."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Finding:
    """One problem in one file, at a 1-based line and column."""

    path: str
    line: int
    col: int
    severity: Severity
    rule: str
    message: str

    def to_json(self) -> dict[str, object]:
        record = asdict(self)
        record["severity"] = str(self.severity)
        return record

    def moved_to(self, path: str) -> Finding:
        """The same finding reported against another path (a copy of the same content)."""
        return Finding(path, self.line, self.col, self.severity, self.rule, self.message)


@dataclass(frozen=True)
class Rule:
    """A rule beyond the reference validator's, with the severity of its findings."""

    id: str
    severity: Severity
    summary: str


# The rules `.taxbot.yaml` can turn off by id (`lint.disable`); the checks live in bot.lint and bot.triage.
RULES: dict[str, Rule] = {
    rule.id: rule
    for rule in (
        Rule("attribution-missing", Severity.ERROR, "version 2+ leaves need a non-empty attribution.txt"),
        Rule("attribution-licence", Severity.ERROR, "the attributed work's licence is on the allowed list"),
        Rule("word-budget", Severity.WARNING, "seed examples stay within the community's word budgets"),
        Rule("context-placement", Severity.WARNING, "`context` only in grounded skills, and in all their seeds"),
        Rule("folder-name", Severity.WARNING, "folder names are lower case with underscores"),
        Rule("document-commit", Severity.ERROR, "knowledge `document.commit` is a commit, pinned in full (40 hex)"),
        Rule("document-patterns", Severity.ERROR, "knowledge `document.patterns` are non-empty"),
        Rule("repeated-question", Severity.WARNING, "no question asked twice in one leaf (over the same context)"),
        Rule("proprietary-model", Severity.WARNING, "answers do not name proprietary chat models"),
        Rule("duplicate-key", Severity.ERROR, "no key given twice in one mapping"),
        Rule("yaml-boolean", Severity.WARNING, "no bare yes/no/on/off read as booleans"),
        Rule("alias", Severity.WARNING, "no YAML anchors and aliases"),
        Rule("tab", Severity.WARNING, "no tab characters"),
        Rule("bom", Severity.WARNING, "no byte order mark"),
        Rule("crlf", Severity.WARNING, "Unix line endings"),
        # Triage checks (bot.triage): a triager's verdict, always a warning, never a block.
        Rule("triage/personal-data", Severity.WARNING, "no personal data in the contributor's own seeds"),
        Rule("triage/secret", Severity.WARNING, "no API keys, tokens, private keys or passwords"),
        Rule("triage/abuse", Severity.WARNING, "no hate, abuse or profanity"),
        Rule("triage/machine-written", Severity.WARNING, "answers written by people, not by a chat model"),
        Rule("triage/near-duplicate", Severity.WARNING, "the seeds of a leaf do not repeat each other"),
        Rule("triage/bare-answer", Severity.WARNING, "reasoning questions are answered with their steps"),
        Rule("triage/split-conversation", Severity.WARNING, "each seed example stands alone, not a turn of a chat"),
        Rule("triage/short-answer", Severity.WARNING, "answers give what their question asks for"),
    )
}


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Stable order for every rendering: by path, then position, errors before warnings."""
    return sorted(findings, key=lambda f: (f.path, f.line, f.col, f.severity is not Severity.ERROR, f.rule))
