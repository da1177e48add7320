"""Teacher output and seeds shown in a PR comment ping no one, inject no HTML and stay bounded."""

from bot.safetext import comment_safe


def test_mentions_and_issue_links_are_defused() -> None:
    text = comment_safe("Thanks @octocat and @org/team, see #12; mail me at a@b.com")
    assert "@octocat" not in text and "@org" not in text and "#12" not in text
    assert "a@b.com" in text  # an e-mail address is not a mention


def test_html_and_fences_cannot_break_out() -> None:
    text = comment_safe("<details><summary>x</summary><img src=x onerror=alert(1)>\n```\n</details>")
    assert "<" not in text and "```" not in text


def test_size_is_bounded() -> None:
    assert len(comment_safe("word " * 10_000, limit=300)) <= 300


def test_cutting_never_leaves_half_an_entity() -> None:
    text = comment_safe("<" * 500, limit=100)
    assert len(text) <= 100 and text.endswith("&lt;…")
