"""PR comment commands: parsed from the first /taxbot line, allowed only to writers or configured teams."""

from __future__ import annotations

import pytest

from bot.github.commands import Access, is_bot, parse_command


def test_commands_are_found_on_their_own_line() -> None:
    assert parse_command("thanks!\n/taxbot generate please").name == "generate"  # type: ignore[union-attr]
    assert parse_command("see /taxbot review in the docs") is None
    assert parse_command("/taxbot frobnicate").name == "help"  # type: ignore[union-attr]
    assert parse_command("") is None


def test_access_fails_closed() -> None:
    no_team = Access()
    assert no_team.allows("maintainer", lambda _: "maintain", lambda *_: True)
    assert not no_team.allows("reader", lambda _: "read", lambda *_: True)  # teams unconfigured: ignored
    triagers = Access(("org/triage",))
    assert triagers.allows("triager", lambda _: "read", lambda org, slug, login: (org, slug) == ("org", "triage"))
    assert not triagers.allows("stranger", lambda _: "none", lambda *_: False)


def test_team_config_is_checked() -> None:
    assert Access.from_config({"teams": ["org/triage"]}).teams == ("org/triage",)
    with pytest.raises(ValueError, match="org/team-slug"):
        Access.from_config({"teams": ["triage"]})


def test_bots_are_recognised() -> None:
    assert is_bot("github-actions[bot]", "Bot") and is_bot("renovate[bot]", "User") and not is_bot("alice", "User")
