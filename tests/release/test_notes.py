"""Release notes and pull-request comments as a reader sees them; pull requests found in commit messages."""

from __future__ import annotations

from bot.release.gate import CHANGED, GENERAL, SAFETY, Check, GateReport, GroupResult
from bot.release.notes import MARKER, LeafNote, ReleaseFacts, pull_comment, pull_numbers, release_notes

SHA = "0123456789abcdef0123456789abcdef01234567"
LEAF = "compositional_skills/arithmetic/addition/qna.yaml"
OTHER = "knowledge/geography/lakes/qna.yaml"


def facts(**changes: object) -> ReleaseFacts:
    gate = GateReport(
        "rouge_l", None,
        [GroupResult(CHANGED, 5, 0.1, 0.6), GroupResult(GENERAL, 40, 0.3, 0.29), GroupResult(SAFETY, 16, 0.8, 0.82)],
        [GroupResult(LEAF, 5, 0.1, 0.6), GroupResult(OTHER, 30, 0.2, 0.2)],
        [Check("improves the new leaves", True, "0.600 against 0.100")],
    )  # fmt: skip
    values: dict = dict(
        tag="v20250131-0123456", taxonomy_commit=SHA, hub_repo="org/model", hub_url="https://hub.example",
        base_model="ibm-granite/granite-7b-base", gate=gate,
        leaves=[LeafNote(LEAF, "added", "alice"), LeafNote("knowledge/old/qna.yaml", "deleted", "carol")],
        pulls={12: "alice", 14: "bob"}, previous_commit="f" * 40, taxonomy_url="https://github.com/org/taxonomy",
        training={"phase1": {"samples": 40, "steps": 12, "final_loss": 2.5}}, pull_leaves={12: [LEAF], 14: [OTHER]},
    )  # fmt: skip
    return ReleaseFacts(**{**values, **changes})


def test_pull_requests_come_from_merge_and_squash_messages() -> None:
    messages = [
        "Merge pull request #12 from alice/haiku\n\nAdd a haiku skill",
        "Add the lake leaf (#14)",
        "Fix typo\n\nSee (#99) in the body, which is not a squash merge",
        "Merge pull request #12 from alice/haiku",
        "",
    ]
    assert pull_numbers(messages) == [12, 14]


def test_the_notes_name_the_commit_leaves_pulls_contributors_gate_and_curves() -> None:
    notes = release_notes(facts())
    assert "Taxonomy commit [`0123456`](https://github.com/org/taxonomy/commit/" + SHA + ")" in notes
    assert "(previous release: [`fffffff`]" in notes
    assert f"| `{LEAF}` | added | alice |" in notes
    assert "| `knowledge/old/qna.yaml` | deleted | carol |" in notes
    assert "- [#12](https://github.com/org/taxonomy/pull/12) by @alice" in notes
    assert "\n### Contributors\n\nalice, bob\n" in notes  # carol's leaf left: she is not credited here
    assert "| new and changed leaves | 5 | 0.100 | 0.600 | +0.500 |" in notes
    assert "| phase1 | 40 | 12 | 2.5000 |" in notes
    assert notes.rstrip().endswith("![Training loss of both phases](loss_curves.png)")


def test_contributor_text_cannot_ping_or_inject() -> None:
    notes = release_notes(facts(leaves=[LeafNote(LEAF, "added", "@org/everyone <img src=x>")], pulls={}))
    assert "@org/everyone" not in notes and "<img" not in notes
    assert "None found in the commits since the previous release." in notes


def test_each_pull_comment_quotes_its_own_leaves_not_the_average_of_all() -> None:
    url = "https://github.com/org/taxonomy/releases/tag/v20250131-0123456"
    comment = pull_comment(facts(), url, 12)
    assert comment.startswith(MARKER)
    assert (
        "in release **v20250131-0123456** of [`org/model`](https://hub.example/org/model/tree/v20250131-0123456)"
        in (comment)
    )
    assert f"| `{LEAF}` | 5 | 0.100 | 0.600 | +0.500 |" in comment and OTHER not in comment
    assert "scored by rouge_l word overlap against the references (no judge configured)" in comment
    assert "On the 16 questions of the safety set, the release scores 0.820 against 0.800" in comment
    assert comment.rstrip().endswith("releases/tag/v20250131-0123456")
    other = pull_comment(facts(), url, 14)
    assert f"| `{OTHER}` | 30 | 0.200 | 0.200 | +0.000 |" in other and LEAF not in other
    assert f"No gain on its own seeds: `{OTHER}`" in other
    unknown = pull_comment(facts(), None, 99)  # a pull request whose leaves are not known: no numbers of others
    assert "| leaf |" not in unknown and "safety set" in unknown


def test_the_first_release_of_a_large_tree_fits_githubs_limit_with_counts_and_links() -> None:
    leaves = [LeafNote(f"knowledge/branch_{i % 7}/topic_{i:05d}/a_rather_long_leaf_folder/qna.yaml", "added",
                       f"contributor-{i}") for i in range(6_000)]  # fmt: skip
    big = facts(leaves=leaves, pulls={n: f"author-{n}" for n in range(1, 4_001)})
    notes = release_notes(big)
    assert len(notes) <= 125_000
    assert "6,000 leaves, too many to list here" in notes and "/tree/" + SHA in notes
    assert "| `knowledge` |" in notes and "| 6000 |" in notes  # the count per top-level branch
    small = release_notes(facts())
    assert f"`{LEAF}`" in small  # a normal release still lists every leaf
