"""Renderings of a `similar` review: what a contributor reads in the log and in the pull request."""

from __future__ import annotations

import json

from bot.similar.duplicates import Match, MatchKind, Place
from bot.similar.indexcache import IndexStats
from bot.similar.report import SimilarReport, render_json, render_markdown, render_text
from bot.taxonomy.findings import Finding, Severity

NEW = "compositional_skills/receipt/json/qna.yaml"
STATS = IndexStats("1eef4f555f0123456789", True, 147, 0, 0, 0, 0.01)
QNA = Match(
    Place(NEW, 19),
    MatchKind.QNA,
    Place("compositional_skills/receipt/csv/qna.yaml", 19),
    96.2,
    "Make a CSV table of all items | with prices for @alice <b>",
    "Create a CSV table of all items | with prices",
    100.0,
)
CONTEXT = Match(
    Place(NEW, 12),
    MatchKind.CONTEXT,
    Place("compositional_skills/receipt/csv/qna.yaml", 12),
    100.0,
    "## Thanks for tipping, Luke",
    "## Thanks for tipping, Luke",
)


def test_text_has_one_line_per_match_and_a_summary() -> None:
    text = render_text(SimilarReport([CONTEXT, QNA], 1, STATS, []))
    assert text.splitlines() == [
        f"{NEW}:12: context this context is shared with compositional_skills/receipt/csv/qna.yaml:12 (100% alike); "
        "fine when the task differs, as when one document serves several extraction skills",
        f"{NEW}:19: qna duplicate seed example: question 96.2% and answer 100% alike at "
        'compositional_skills/receipt/csv/qna.yaml:19: "Create a CSV table of all items | with prices"',
        "1 leaf checked against 147 leaves at 1eef4f555f: 1 duplicate seed example, 1 shared context",
    ]
    assert render_text(SimilarReport([], 2, STATS, [])).endswith(": no matches\n")


def test_markdown_tables_duplicates_and_folds_shared_contexts_away() -> None:
    problem = Finding(".taxbot.yaml", 1, 1, Severity.WARNING, "config", "unknown key `similar.x` is ignored")
    markdown = render_markdown(SimilarReport([CONTEXT, QNA], 1, STATS, [problem]))
    duplicates, contexts = markdown.split("<details>")
    assert (
        f"| `{NEW}:19` | `compositional_skills/receipt/csv/qna.yaml:19` | duplicate seed example | "
        "96.2% (answers 100%) | Make a CSV table of all items \\| with prices for @\u200balice &lt;b&gt; |"
    ) in duplicates
    assert "<summary>Shared contexts (1): fine when the tasks differ</summary>" in contexts
    assert markdown.rstrip().endswith("- `.taxbot.yaml`: warning: unknown key `similar.x` is ignored")


def test_json_carries_every_match_field_and_how_the_index_was_had() -> None:
    document = json.loads(render_json(SimilarReport([QNA], 1, STATS, [])))
    assert document["matches"] == [
        {
            "changed": {"path": NEW, "line": 19},
            "kind": "qna",
            "other": {"path": "compositional_skills/receipt/csv/qna.yaml", "line": 19},
            "score": 96.2,
            "changed_text": "Make a CSV table of all items | with prices for @alice <b>",
            "other_text": "Create a CSV table of all items | with prices",
            "answer_score": 100.0,
            "other_in_change": False,
        }
    ]
    assert document["index"]["loaded"] is True and document["leaves_checked"] == 1
