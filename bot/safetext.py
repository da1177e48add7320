"""Untrusted text (seeds, teacher output) made safe to show in a GitHub comment."""

from __future__ import annotations

import html
import re

_MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9][\w-]*)")
_REFERENCE = re.compile(r"(?<![\w&])#(?=\d)")


def comment_safe(text: str, limit: int = 1000) -> str:
    """No @-mentions (no one is pinged), no #123 links, no raw HTML, no fence break-out, at most `limit` chars."""
    text = html.escape(text.replace("\r\n", "\n"), quote=False)
    text = _MENTION.sub("@\u200b", text)  # a zero-width space after @ keeps the name readable, unlinked
    text = _REFERENCE.sub("#\u200b", text)
    text = text.replace("```", "`\u200b``")
    if len(text) > limit:  # cut after escaping, never inside an entity such as &amp;
        text = re.sub(r"&[#\w]*$", "", text[: limit - 1]).rstrip() + "…"
    return text
