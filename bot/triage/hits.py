"""What a triage check found: the check, the place, how loud, and the evidence a triager reads."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Check(StrEnum):
    """The triage checks; each value is the rule id `.taxbot.yaml` can turn off (`lint.disable`)."""

    PERSONAL_DATA = "triage/personal-data"
    SECRET = "triage/secret"
    ABUSE = "triage/abuse"
    MACHINE_WRITTEN = "triage/machine-written"
    NEAR_DUPLICATE = "triage/near-duplicate"
    BARE_ANSWER = "triage/bare-answer"
    SPLIT_CONVERSATION = "triage/split-conversation"
    SHORT_ANSWER = "triage/short-answer"


class Level(StrEnum):
    WARNING = "warning"  # a finding on the line: the triager should look
    NOTE = "note"  # in the triage table only: worth knowing, likely fine (a published address in a document)


@dataclass(frozen=True)
class Hit:
    check: Check
    path: str
    line: int
    level: Level
    message: str  # what was found, with the value masked where it is personal or secret
    source: str = ""  # which detector said so (a library, a signal, the teacher)


def mask(value: str) -> str:
    """Enough of a value to find it in the file, not enough to repeat it: `jo…@…le.org`, `ghp_…9a`."""
    value = value.strip()
    if len(value) <= 4:
        return "…"
    keep = 2 if len(value) < 12 else 3
    return f"{value[:keep]}…{value[-keep:]}"
