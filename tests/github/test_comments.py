"""Renderings for GitHub: the summary stays under GitHub's cap, untrusted text is defused, diffs map to lines."""

from __future__ import annotations

from bot.github.comments import (
    COMMENT_LIMIT,
    check_run_output,
    commentable_lines,
    inline_comments,
    read_state,
    render_summary,
    with_command_log,
)
from bot.review import Review, Sample
from bot.taxonomy.diff import ChangeStatus, LeafChange
from bot.taxonomy.findings import Finding, Severity

HEAD = "a" * 40
LEAF = "compositional_skills/x/qna.yaml"


def review_with(findings: int, message: str = "needs work") -> Review:
    return Review(
        "b" * 40, HEAD, [LeafChange(LEAF, ChangeStatus.ADDED)],
        [Finding(LEAF, i + 1, 1, Severity.ERROR, "schema/type", f"{message} {i}") for i in range(findings)],
    )  # fmt: skip


def test_a_huge_review_fits_in_one_comment_and_says_what_was_cut() -> None:
    review = review_with(20_000, "x" * 300)
    review.samples = [Sample(LEAF, "q" * 5000, "a" * 5000, 3)] * 50
    body = render_summary(review)
    assert len(body) <= COMMENT_LIMIT
    assert "more in the full report" in body


def test_untrusted_text_cannot_ping_or_inject_html() -> None:
    review = review_with(1, "@everyone <img src=x onerror=alert(1)>")
    review.samples = [Sample(LEAF, "@octocat?", "<script>x</script>", 3)]
    body = render_summary(review)
    assert "@everyone" not in body and "@octocat" not in body and "<img" not in body and "<script>" not in body


def test_state_and_command_log_survive_edits() -> None:
    body = render_summary(review_with(1), state={"approved": HEAD})
    assert read_state(body) == {"approved": HEAD, "verdict": "fail", "head": HEAD}
    logged = with_command_log(body, "alice: /taxbot help: commands are ...", {"approved": "c" * 40})
    assert "alice: /taxbot help" in logged and read_state(logged)["approved"] == "c" * 40
    assert logged.count("#### Commands") == 1
    again = render_summary(review_with(1), state=read_state(logged))
    assert "alice: /taxbot help" in again


def test_check_run_annotations_are_on_the_finding_lines() -> None:
    title, _, annotations = check_run_output(review_with(3))
    assert title.startswith("3 error(s), 0 warning(s)")
    assert [(a["start_line"], a["annotation_level"]) for a in annotations] == [
        (1, "failure"),
        (2, "failure"),
        (3, "failure"),
    ]


def test_only_lines_the_diff_shows_get_inline_comments() -> None:
    patch = "@@ -1,3 +1,4 @@\n a\n-b\n+c\n+d\n e\n@@ -10,1 +11,2 @@\n x\n+y"
    assert commentable_lines(patch) == {1, 2, 3, 4, 11, 12}
    review = Review(
        "b" * 40,
        HEAD,
        [],
        [
            Finding(LEAF, 2, 5, Severity.ERROR, "yamllint/trailing-spaces", "t"),
            Finding(LEAF, 7, 1, Severity.ERROR, "schema/type", "far"),
        ],
    )
    [comment] = inline_comments(review, {LEAF: {1, 2, 3}}, {LEAF: ["a: 1", "b: 2   ", "c: 3"]})
    assert comment["line"] == 2 and "```suggestion\nb: 2\n```" in str(comment["body"])
