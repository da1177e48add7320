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


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Stable order for every rendering: by path, then position, errors before warnings."""
    return sorted(findings, key=lambda f: (f.path, f.line, f.col, f.severity is not Severity.ERROR, f.rule))
