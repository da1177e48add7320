"""Untrusted text (paths, seeds, names, teacher output) made inert before it reaches GitHub's Markdown."""

from __future__ import annotations

import html
import re
import urllib.parse

ZWSP = "\u200b"
"""A zero-width space: put after `@` or `#` it keeps the text readable and stops GitHub linking it."""

# Bidirectional overrides and isolates make text display in another order than it reads (trojan source).
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# GitHub links `@name` and `@org/team` after any character that is not a letter, digit or underscore
# (a backtick, a bracket, a dot...); after a letter or digit the `@` is part of an e-mail address.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@(?=[A-Za-z0-9])")
# `#12`, `owner/repo#12` and `GH-12` all become references, which also notify the referenced thread.
_REFERENCE = re.compile(r"#(?=\d)")
_GH_REFERENCE = re.compile(r"\b(GH)-(?=\d)", re.IGNORECASE)
# Bare URLs become links (GFM autolinks): break the scheme's `://` and the `www.` prefix.
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(?=//)")
_WWW = re.compile(r"(?i)\bwww\.")
# Fences: three or more backticks or tildes open or close a code block.
_FENCE = re.compile(r"([`~])(?=\1\1)")


def _common(text: str) -> str:
    return _BIDI.sub("", text.replace("\r\n", "\n").replace("\r", "\n")).replace("\x00", "")


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    # Never cut inside an entity (&amp;) or a backslash escape.
    cut = re.sub(r"(&[#\w]*|\\)$", "", text[: limit - 1]).rstrip()
    return cut + "…"


def comment_safe(text: str, limit: int = 1000, *, multiline: bool = False) -> str:
    """Text for Markdown prose: pings no one, references nothing, links nowhere, shows no image or HTML,
    opens no fence or comment (`<!--`), and ends where it started; at most `limit` characters.

    Without `multiline` newlines become spaces, so a string cannot start a heading or a list of its own.
    """
    text = _common(text)
    if not multiline:
        text = text.replace("\n", " ")
    text = text.replace("\\", "\\\\")  # first: an attacker's backslash must not cancel ours
    text = html.escape(text, quote=False)  # <, >, & as entities: no HTML, no `<!--`, no <autolink>
    text = text.replace("[", "\\[").replace("]", "\\]")  # no [link](...), ![image](...), [ref]: definitions
    text = _MENTION.sub("@" + ZWSP, text)
    text = _REFERENCE.sub("#" + ZWSP, text)
    text = _GH_REFERENCE.sub(lambda m: m.group(1) + ZWSP + "-", text)
    text = _SCHEME.sub(lambda m: m.group(1) + ":" + ZWSP, text)
    text = _WWW.sub(lambda m: m.group(0)[:3] + ZWSP + ".", text)
    text = _FENCE.sub(lambda m: m.group(1) + ZWSP, text)
    return _cut(text, limit)


def code_span(text: str, limit: int = 300) -> str:
    """Text as an inline code span: GitHub shows it literally (no mention, link or HTML inside code), so
    only what could end the span is changed: backticks, line breaks, and `|`, which splits a table cell
    even inside code."""
    text = _common(text).replace("\n", " ").replace("`", "'").replace("|", "\\|")
    text = _cut(text, limit).rstrip("\\")
    return f"`{text.strip() or ' '}`"


def url_path(path: str) -> str:
    """A path for a link's target: every character that could end the target or change its meaning
    (spaces, parentheses, `#`, `?`, quotes, `<`, `>`) percent-encoded; `/` kept."""
    return urllib.parse.quote(_common(path), safe="/-._~")
