"""Renderings of a `gaps` review: the lines a contributor and a triager read."""

from __future__ import annotations

import json

from bot.gaps.coverage import Coverage, Landing, Neighbour, ShortLeaf, TreeGaps
from bot.gaps.precheck import LeafPrecheck, StudentAnswer
from bot.gaps.report import SHOWN, GapsReport, render_json, render_markdown, render_text

TREE = TreeGaps(
    [Coverage("compositional_skills", 3, 13, 900), Coverage("compositional_skills/writing", 2, 8, 700)],
    {"knowledge/history": 2},
    [ShortLeaf(f"compositional_skills/writing/s{i}/qna.yaml", 1, 3) for i in range(SHOWN + 2)],
    5,
)
POEM = "compositional_skills/writing/receipt_poem/qna.yaml"
LANDING = Landing(
    POEM,
    "compositional_skills/writing",
    None,
    ["compositional_skills/writing/haiku/qna.yaml"],
    [Neighbour("compositional_skills/writing/haiku/qna.yaml", 80.0)],
    [Neighbour("compositional_skills/extraction/receipt/csv/qna.yaml", 97.5)],
    "compositional_skills/extraction",
)
PRECHECK = LeafPrecheck(POEM, [StudentAnswer(5, "q", "a", 100.0), StudentAnswer(7, "q2", "b", 10.0)], 60)


def test_text_shows_the_tree_then_each_changed_leaf() -> None:
    text = render_text(GapsReport(TREE, 1, [LANDING], [PRECHECK], ["a note"]))
    lines = text.splitlines()
    assert lines[1].split() == ["compositional_skills", "3", "13", "900"]  # depth 1 hides the writing branch
    assert "  knowledge/history (and 2 empty folder(s) inside)" in lines
    assert f"leaves under 5 seed examples: {SHOWN + 2} (version 1: {SHOWN + 2})" in lines
    assert "  ... and 2 more (--format json lists them all)" in lines
    at = lines.index(POEM)
    assert lines[at + 1 :] == [
        "  lands in compositional_skills/writing beside 1 leaf(s): haiku",
        "  nearest by path: compositional_skills/writing/haiku (80)",
        "  nearest by content: compositional_skills/extraction/receipt/csv (97.5)",
        "  its nearest leaves by content are under compositional_skills/extraction, not here: "
        "is it in the right place?",
        "  student: the student already answers 1 of 2 like the seed answers",
        "note: a note",
    ]


def test_markdown_leads_with_the_change_and_folds_the_tree() -> None:
    markdown = render_markdown(GapsReport(TREE, 2, [LANDING], [PRECHECK]))
    change, tree = markdown.split("<details>")
    assert change.startswith(f"### Gaps\n\n- `{POEM}`\n  - lands in compositional_skills/writing beside 1 leaf(s)")
    assert "| `compositional_skills/writing` | 2 | 8 | 700 |" in tree
    assert "Empty branches: `knowledge/history`." in tree


def test_json_lists_everything() -> None:
    document = json.loads(render_json(GapsReport(TREE, 1, [LANDING], [PRECHECK])))
    assert len(document["short_leaves"]) == SHOWN + 2
    assert document["landings"][0]["elsewhere"] == "compositional_skills/extraction"
    assert document["precheck"][0]["correct"] == 1 and document["precheck"][0]["asked"] == 2
