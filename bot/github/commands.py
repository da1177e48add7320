"""PR comment commands (`/taxbot help`, `review`, `generate`, `precheck`, `approve`, `trial`) and who may give them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

COMMANDS: dict[str, str] = {
    "help": "list the commands",
    "review": "review the pull request's head again",
    "generate": "ask the teacher for sample pairs of the changed leaves",
    "precheck": "ask the current model the seed questions of the changed leaves",
    "approve": "`/taxbot approve <full head sha>`: allow teacher calls for exactly that commit of a fork's pull "
    "request",
    "trial": "train a short adapter on the changed leaves and compare it with the release (GPU runner)",
}
EXPENSIVE = frozenset({"generate", "precheck"})
"""Commands that call the teacher or the student: on a fork's pull request only after approval."""
WRITE_ROLES = frozenset({"admin", "maintain", "write"})

_COMMAND = re.compile(r"^\s*/taxbot\s+([a-z-]+)\b(.*)$", re.MULTILINE)


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


def parse_command(body: str) -> Command | None:
    """The first `/taxbot NAME` line of a comment; an unknown name parses to `help`."""
    match = _COMMAND.search(body or "")
    if match is None:
        return None
    name = match.group(1)
    return Command(name if name in COMMANDS else "help", match.group(2).strip())


def is_bot(login: str, user_type: str) -> bool:
    return user_type == "Bot" or login.endswith("[bot]")


@dataclass(frozen=True)
class Access:
    """Who may command the bot: write access, or membership of a configured team. Fail closed."""

    teams: tuple[str, ...] = ()  # "org/slug"

    @classmethod
    def from_config(cls, section: Mapping[str, object]) -> Access:
        teams = section.get("teams", [])
        if not isinstance(teams, list) or not all(isinstance(t, str) and t.count("/") == 1 for t in teams):
            raise ValueError("`github.teams` must be a list of `org/team-slug` names")
        return cls(tuple(teams))

    def allows(self, login: str, role: Callable[[str], str], in_team: Callable[[str, str, str], bool]) -> bool:
        """`role(login)` gives the repository role; `in_team(org, slug, login)` the team membership."""
        return role(login) in WRITE_ROLES or any(in_team(*team.split("/"), login) for team in self.teams)


def help_text() -> str:
    rows = "\n".join(f"- `/taxbot {name}`: {what}" for name, what in COMMANDS.items())
    return f"Commands (people with write access, or in the configured teams):\n\n{rows}"
