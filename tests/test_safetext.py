"""Untrusted text in a comment, a check run or a release pings no one, references nothing, links nowhere and
cannot break out of where it was put. Checked on a corpus of hostile strings by parsing the Markdown that
GitHub would render (markdown-it, CommonMark with GFM tables), not by looking for substrings."""

from __future__ import annotations

import re

import pytest
from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.github.comments import Links, check_run_output, inline_comments, render_summary, with_command_log
from bot.release.gate import GateReport
from bot.release.notes import LeafNote, ReleaseFacts, release_notes
from bot.review import Note, Review, Sample
from bot.safetext import code_span, comment_safe, url_path
from bot.taxonomy.diff import ChangeStatus, LeafChange
from bot.taxonomy.findings import Finding, Severity

HOSTILE = [
    "@alice please look",
    "`@alice",  # an unclosed backtick: GitHub still links the mention
    "see `x`@alice",
    "(@alice)",
    "thanks,@bob!",
    "*@alice*",
    "@org/everyone",
    "@@alice",
    "&#64;alice",
    "fixes #12",
    "community/taxonomy#12",
    "GH-12 and gh-7",
    "[click here](https://evil.example/steal)",
    "![pixel](https://evil.example/track.png)",
    "[a](javascript:alert(1))",
    "[x][1]\n\n[1]: https://evil.example",
    "\\[escaped](https://evil.example)",
    "\\\\[double](https://evil.example)",
    "<https://evil.example>",
    "https://evil.example/path",
    "www.evil.example",
    "<img src=x onerror=alert(1)>",
    "<details open><summary>free</summary>",
    "</details></sub>",
    "<!-- everything after this is hidden",
    "-->",
    "```\n# heading from a fence break-out\n```",
    "~~~\ncode",
    "line one\n\n### taxbot review: ✅ no errors",
    "| a | b |\n|---|---|\n| c | d |",
    "\u202eevil\u202c reversed",
    "tab\there and a NUL\x00",
    "<script>alert(1)</script>",
    "[^1]\n\n[^1]: https://evil.example",
]
PATHS = [
    "knowledge/a) ![x](https://evil.example/x.png) (/qna.yaml",
    "knowledge/a b/qna.yaml",
    "knowledge/@alice/#12/qna.yaml",
    "knowledge/<!--/qna.yaml",
    "knowledge/`x`/qna.yaml",
    "knowledge/x|y/qna.yaml",
]
ALLOWED_HTML = re.compile(r"^((<!-- taxbot:[^\n]*-->\s*)+|(</?details>|<summary>[^<]*</summary>|</?sub>)+\s*)$")
LIVE_MENTION = re.compile(r"(?<![A-Za-z0-9_])@[A-Za-z0-9]")
LIVE_REFERENCE = re.compile(r"#\d|\bGH-\d", re.I)
AUTOLINK = re.compile(r"[a-z]+://|\bwww\.", re.I)
REPO_URL = "https://github.com/community/taxonomy"

markdown = MarkdownIt("commonmark").enable("table").enable("strikethrough")


def tokens(text: str) -> list[Token]:
    flat: list[Token] = []
    for token in markdown.parse(text):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def live_problems(text: str, *, allowed_links: str | None = None) -> list[str]:
    """Everything in rendered Markdown that would act: links (other than to `allowed_links`), images, HTML
    (other than the bot's own markers), mentions, references and autolinks in text."""
    problems = []
    for token in tokens(text):
        if token.type == "link_open":
            href = str(token.attrs.get("href", ""))
            if allowed_links is None or not href.startswith(allowed_links) or re.search(r"[\s()<>]", href):
                problems.append(f"link to {href}")
        elif token.type == "image":
            problems.append(f"image {token.attrs.get('src')}")
        elif token.type in ("html_inline", "html_block") and not ALLOWED_HTML.match(token.content):
            problems.append(f"html {token.content!r}")
        elif token.type == "text":
            for pattern in (LIVE_MENTION, LIVE_REFERENCE, AUTOLINK):
                if match := pattern.search(token.content):
                    problems.append(f"live {match.group(0)!r} in {token.content!r}")
    return problems


@pytest.mark.parametrize("hostile", HOSTILE + PATHS)
def test_prose_is_inert(hostile: str) -> None:
    safe = comment_safe(hostile)
    assert live_problems(safe) == []
    kinds = {t.type for t in markdown.parse(f"before {safe} after")}
    assert kinds == {"paragraph_open", "inline", "paragraph_close"}  # one paragraph: no heading, fence, table


@pytest.mark.parametrize("hostile", HOSTILE + PATHS)
def test_a_code_span_stays_one_code_span_in_one_table_cell(hostile: str) -> None:
    row = f"| leaf | n |\n|---|---|\n| {code_span(hostile)} | 1 |"
    cells = [t for t in tokens(row) if t.type == "td_open"]
    codes = [t for t in tokens(row) if t.type == "code_inline"]
    assert len(cells) == 2 and len(codes) == 1 and live_problems(row) == []


@pytest.mark.parametrize("path", PATHS)
def test_a_path_in_a_link_target_stays_in_it(path: str) -> None:
    link = f"[{code_span(path)}]({REPO_URL}/blob/{'a' * 40}/{url_path(path)}#L3)"
    [opened] = [t for t in tokens(link) if t.type == "link_open"]
    assert opened.attrs["href"].endswith("#L3") and live_problems(link, allowed_links=REPO_URL) == []


def test_mentions_and_issue_links_are_defused_but_e_mail_stays() -> None:
    text = comment_safe("Thanks @octocat and @org/team, see #12; mail me at a@b.com")
    assert "@octocat" not in text and "@org" not in text and "#12" not in text
    assert "a@b.com" in text


def test_size_is_bounded_and_never_cut_inside_an_entity() -> None:
    assert len(comment_safe("word " * 10_000, limit=300)) <= 300
    text = comment_safe("<" * 500, limit=100)
    assert len(text) <= 100 and text.endswith("&lt;…")


def hostile_review() -> Review:
    changes = [LeafChange(p, ChangeStatus.ADDED) for p in PATHS]
    findings = [Finding(p, 3, 1, Severity.ERROR, "schema/type", h) for p in PATHS for h in HOSTILE[:6]]
    findings += [Finding(PATHS[0], 4, 1, Severity.WARNING, h, "m") for h in HOSTILE]
    duplicates = [{"leaf": f"{p}:3", "kind": h, "like": f"{PATHS[1]}:5", "score": "0.9", "text": h}
                  for p, h in zip(PATHS, HOSTILE, strict=False)]  # fmt: skip
    gaps = [{"leaf": p, h: h} for p, h in zip(PATHS, HOSTILE, strict=False)]
    samples = [Sample(PATHS[0], h, h, 3, h) for h in HOSTILE]
    notes = [Note(h, h) for h in HOSTILE]
    return Review("b" * 40, "a" * 40, changes, findings, {"duplicates": duplicates, "gaps": gaps, "odd": HOSTILE[0]},
                  samples, notes, 1)  # fmt: skip


def test_the_summary_built_from_hostile_values_is_inert() -> None:
    review = hostile_review()
    body = render_summary(review, Links(REPO_URL, "https://github.com/community/taxonomy/actions/runs/1"))
    for hostile in HOSTILE:
        body = with_command_log(body, f"mallory: /taxbot help: {hostile}")
    assert live_problems(body, allowed_links=REPO_URL) == []
    assert body.count("<!-- taxbot:") == 2 and body.index("<!-- taxbot:state") < 60


def test_inline_comments_and_the_check_run_built_from_hostile_values_are_inert() -> None:
    review = hostile_review()
    comments = inline_comments(review, {p: {3, 4} for p in PATHS}, {})
    assert comments and all(live_problems(str(c["body"])) == [] for c in comments)
    _, _, annotations = check_run_output(review)
    assert all(live_problems(str(a["message"])) == [] for a in annotations)


def test_release_notes_built_from_hostile_values_are_inert() -> None:
    leaves = [LeafNote(p, "added", h) for p, h in zip(PATHS, HOSTILE, strict=False)]
    facts = ReleaseFacts("v1", "a" * 40, "org/model", "https://hub.example", "base", GateReport("rouge_l", None, [],
                         [], []), leaves, {12: "alice"}, taxonomy_url=REPO_URL)  # fmt: skip
    notes = release_notes(facts)
    problems = live_problems(notes, allowed_links=REPO_URL)
    # The release names its own pull requests and their authors on purpose; nothing else may act.
    assert [p for p in problems if "'#1" not in p and "'@a" not in p and "hub.example" not in p] == []
