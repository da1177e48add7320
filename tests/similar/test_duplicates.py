"""`taxbot similar`: near-duplicates of a change against the tree and itself, on crafted and real trees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.similar.duplicates import Match, MatchKind, Place, find_duplicates, similar_settings, to_findings
from bot.similar.seedindex import SeedIndex, Thresholds, Tokenizer, build_index, leaf_texts
from bot.taxonomy.findings import Severity
from bot.taxonomy.tree import Leaf, load_directory, parse_leaf

FILLER = [
    ("How many legs does a spider have?", "A spider has eight legs, two more than an insect."),
    ("Which planet is closest to the sun?", "Mercury is the planet closest to the sun."),
    ("What colour do you get by mixing blue and yellow?", "Mixing blue and yellow paint gives green."),
    ("Name the largest ocean on Earth.", "The Pacific is the largest ocean on Earth."),
    ("What is the boiling point of water at sea level?", "Water boils at 100 degrees Celsius at sea level."),
]


def skill(pairs: list[tuple[str, str]], context: str | None = None, task: str = "Answer a question.") -> str:
    seeds = [{"question": q, "answer": a} | ({"context": context} if context else {}) for q, a in pairs]
    return yaml.safe_dump(
        {"version": 3, "task_description": task, "created_by": "tests", "seed_examples": seeds}, sort_keys=False
    )


def leaf(path: str, text: str) -> Leaf:
    return parse_leaf(path, text.encode())


def index_of(leaves: dict[str, str], thresholds: Thresholds | None = None) -> SeedIndex:
    tokenizer = Tokenizer()
    texts = [leaf_texts(leaf(p, t), "", tokenizer) for p, t in leaves.items()]
    return build_index(thresholds or Thresholds(), tokenizer, texts)


def check(index: SeedIndex, leaves: list[Leaf], excluded: tuple[str, ...] = ()) -> list[Match]:
    """Matches through the prefix filter, which must be the ones scoring every pair gives."""
    found = find_duplicates(index, leaves, excluded)
    assert found == find_duplicates(index, leaves, excluded, exhaustive=True)
    return found


TREE = {
    "compositional_skills/trivia/nature/qna.yaml": skill(FILLER),
    "compositional_skills/trivia/space/qna.yaml": skill(
        [
            ("What is the name of the galaxy that contains our solar system?", "Our solar system is in the Milky Way."),
            ("How long does light from the sun take to reach the Earth?", "About eight minutes and twenty seconds."),
            ("What causes the phases of the moon as seen from Earth?", "The changing angle of sunlight on the moon."),
            ("Is Pluto a planet?", "Yes"),
            ("Which is the hottest planet in the solar system?", "Venus, because of its thick atmosphere."),
        ]
    ),
}
NEW = "compositional_skills/trivia/new/qna.yaml"


def test_a_copied_seed_example_is_one_duplicate_naming_both_places() -> None:
    index = index_of(TREE)
    change = leaf(
        NEW,
        skill(
            [("How many legs does a spider have ?", FILLER[0][1]), *[(f"Q{i} unique", f"A{i} x y z") for i in range(4)]]
        ),
    )
    [match] = check(index, [change])
    assert match.kind is MatchKind.QNA
    assert match.changed == Place(NEW, change.seed_examples[0].question_line)
    assert match.other == Place("compositional_skills/trivia/nature/qna.yaml", 5)
    assert match.score == 100 and match.answer_score == 100
    assert match.other_text == "How many legs does a spider have?"
    assert not match.other_in_change


def test_the_same_question_answered_differently_and_the_same_answer_to_another_question() -> None:
    index = index_of(TREE)
    change = leaf(
        NEW,
        skill(
            [
                ("Which planet is closest to the sun?", "That would be Mercury, at about 58 million km."),
                ("Tell me which ocean is the biggest one.", "The Pacific is the largest ocean on Earth."),
                ("Is Pluto really a planet these days?", "Yes"),  # a one-word answer is no duplicate on its own
            ]
        ),
    )
    found = check(index, [change])
    nature = leaf("compositional_skills/trivia/nature/qna.yaml", TREE["compositional_skills/trivia/nature/qna.yaml"])
    assert [(m.kind, m.other.line) for m in found] == [
        (MatchKind.QUESTION, nature.seed_examples[1].question_line),
        (MatchKind.ANSWER, nature.seed_examples[3].answer_line),
    ]
    assert found[0].answer_score is not None and found[0].answer_score < 96


def test_grounded_questions_only_repeat_on_the_same_context() -> None:
    receipt = "Receipt 1041. Two coffees at 3.50 each, one muffin at 2.75, total 9.75, paid by card."
    other = "Invoice 77 for consulting services, forty hours at 120 dollars an hour, due in thirty days."
    question = ("What is the total amount on this document?", "The total is 9.75.")
    index = index_of({"compositional_skills/grounded/receipt/csv/qna.yaml": skill([question], receipt, "As CSV.")})
    same_context = leaf(
        "compositional_skills/grounded/receipt/json/qna.yaml", skill([question, ("Who paid?", "A card.")], receipt)
    )
    other_context = leaf("compositional_skills/grounded/invoice/qna.yaml", skill([question], other))
    assert {m.kind for m in check(index, [same_context])} == {MatchKind.CONTEXT, MatchKind.QNA}
    assert check(index, [other_context]) == []


def test_inside_a_change_each_pair_is_reported_once_and_a_leaf_against_itself_too() -> None:
    index = index_of(TREE)
    first = leaf("compositional_skills/a/qna.yaml", skill([("Who wrote the novel Middlemarch?", "George Eliot.")]))
    second = leaf(
        "compositional_skills/b/qna.yaml",
        skill([("Who wrote the novel Middlemarch?", "George Eliot."), ("Who wrote Middlemarch?", "Mary Ann Evans.")]),
    )
    found = check(index, [first, second])
    assert [(m.kind, str(m.changed), str(m.other), m.other_in_change) for m in found] == [
        (MatchKind.QNA, "compositional_skills/a/qna.yaml:5", "compositional_skills/b/qna.yaml:5", True)
    ]
    repeated = leaf(NEW, skill([FILLER[1], FILLER[1], FILLER[2]]))
    [match] = [m for m in check(index, [repeated]) if m.other_in_change]
    lines = [seed.question_line for seed in repeated.seed_examples]
    assert (match.kind, match.changed.line, match.other.line) == (MatchKind.QNA, lines[0], lines[1])


def test_a_modified_leaf_is_not_a_duplicate_of_its_own_old_version() -> None:
    index = index_of(TREE)
    path = "compositional_skills/trivia/nature/qna.yaml"
    modified = leaf(path, skill([*FILLER, ("What do bees make?", "Bees make honey and wax.")]))
    assert check(index, [modified], excluded=(path,)) == []
    assert len(check(index, [modified])) == 5


def test_findings_are_on_the_changed_line_with_a_rule_per_kind_and_a_copied_seed_is_an_error() -> None:
    index = index_of(TREE)
    change = leaf(NEW, skill([FILLER[3], ("Name the largest ocean on Earth.", "It is the Pacific.")]))
    findings = to_findings(check(index, [change]))
    first, second = (seed.question_line for seed in change.seed_examples)
    assert [(f.line, f.severity, f.rule) for f in findings] == [
        (first, Severity.ERROR, "similar/duplicate-qna"),  # FILLER[3] in the tree: the review fails, as `similar` does
        (first, Severity.WARNING, "similar/duplicate-question"),  # the second seed example of the change
        (second, Severity.WARNING, "similar/duplicate-question"),  # FILLER[3] in the tree, answered otherwise
    ]
    nature = leaf("compositional_skills/trivia/nature/qna.yaml", TREE["compositional_skills/trivia/nature/qna.yaml"])
    assert f"compositional_skills/trivia/nature/qna.yaml:{nature.seed_examples[3].question_line}" in findings[0].message
    assert f"{NEW}:{second} (also in this change), answered differently" in findings[1].message


def test_settings_come_from_the_config_and_every_problem_is_reported() -> None:
    settings, problems = similar_settings({"question": 90, "cache": ".cache/taxbot"})
    assert settings.thresholds.question == 90 and settings.thresholds.answer == 96
    assert settings.cache == ".cache/taxbot" and problems == []
    settings, problems = similar_settings({"question": 120, "answer_min_words": 0, "treshold": 3})
    assert settings.thresholds == Thresholds()
    assert [(p.severity, p.message.split(" ")[0]) for p in problems] == [
        (Severity.ERROR, "`similar.question`"),
        (Severity.ERROR, "`similar.answer_min_words`"),
        (Severity.WARNING, "unknown"),
    ]
    assert "found 120; using 93" in problems[0].message


# The real community tree.

RECEIPT = "compositional_skills/extraction/receipt"


@pytest.fixture(scope="module")
def real_tree() -> tuple[SeedIndex, dict[str, Leaf]]:
    root = Path(__file__).resolve().parents[3] / "shared" / "data" / "taxonomy-2024-08"
    if not root.is_dir():
        pytest.skip("../shared/data is absent")
    leaves = load_directory(root).leaves
    tokenizer = Tokenizer()
    return build_index(Thresholds(), tokenizer, [leaf_texts(x, "", tokenizer) for x in leaves.values()]), leaves


def test_real_receipts_share_a_context_and_are_not_duplicate_seed_examples(real_tree) -> None:
    index, leaves = real_tree
    path = f"{RECEIPT}/csv/qna.yaml"
    found = check(index, [leaves[path]], excluded=(path,))
    assert {m.kind for m in found} == {MatchKind.CONTEXT}
    assert sorted(m.other.path for m in found) == [
        f"{RECEIPT}/{skill}/qna.yaml" for skill in ("bullet_points", "markdown", "plain_text", "reasoning")
    ]
    assert all(m.score == 100 for m in found)


def test_real_tree_flags_only_its_known_repeats(real_tree) -> None:
    """Every leaf as a change against the rest: the prefilter agrees with brute force, and only the
    copied seed examples of invoice/csv and the questions repeated across technical_paper/equations
    formats are flagged; templated leaves (puns, unit conversions) are not."""
    index, leaves = real_tree
    flagged = {}
    for path, one in leaves.items():
        for match in check(index, [one], excluded=(path,)):
            if match.kind is not MatchKind.CONTEXT:
                flagged.setdefault(path, set()).add(match.kind)
    equations = "compositional_skills/extraction/technical_paper/equations"
    assert flagged == {
        "compositional_skills/extraction/invoice/csv/qna.yaml": {MatchKind.QNA, MatchKind.ANSWER},
        f"{equations}/csv/qna.yaml": {MatchKind.QUESTION},
        f"{equations}/markdown/qna.yaml": {MatchKind.QUESTION},
        f"{equations}/bullet_points/qna.yaml": {MatchKind.QUESTION},
    }


def test_real_2025_tree_has_no_duplicates(shared_data: Path) -> None:
    leaves = load_directory(shared_data / "taxonomy-2025-04").leaves
    tokenizer = Tokenizer()
    index = build_index(Thresholds(), tokenizer, [leaf_texts(x, "", tokenizer) for x in leaves.values()])
    # The inclusion leaf asks one instruction about several sentences: the same question on other contexts.
    assert all(check(index, [one], excluded=(path,)) == [] for path, one in leaves.items())


# The command line, on real git repositories.


def test_similar_command_reports_duplicates_and_exits_1(taxonomy_repo, capsys) -> None:
    base = taxonomy_repo.commit_files({**TREE, ".taxbot.yaml": "similar:\n  answer: 97\n  colour: red\n"}, "base")
    taxonomy_repo.commit_files(
        {NEW: skill([FILLER[0], *[(f"Unique question {i}", f"Answer {i} a b c") for i in range(4)]])}
    )
    root = taxonomy_repo.working_dir

    assert main(["similar", "--taxonomy", root, "--base", base, "--head", "HEAD", "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert [(m["kind"], m["changed"]["path"], m["other"]["line"]) for m in report["matches"]] == [("qna", NEW, 5)]
    assert report["index"]["leaves"] == 2 and not report["index"]["loaded"]
    assert [p["message"].split(" ")[2] for p in report["problems"]] == ["`similar.colour`"]
    assert (Path(root) / ".git" / "taxbot-cache" / "similar").is_dir()

    assert main(["similar", "--taxonomy", root, "--base", base, "--head", "HEAD"]) == 1
    text = capsys.readouterr().out
    assert f"{NEW}:5: qna duplicate seed example: question 100% and answer 100% alike" in text
    assert text.rstrip().endswith("1 duplicate seed example")


def test_similar_command_exits_0_on_shared_contexts_alone_and_on_the_work_tree(taxonomy_repo, capsys) -> None:
    receipt = "Receipt 1041. Two coffees at 3.50 each, one muffin at 2.75, total 9.75, paid by card."
    csv = "compositional_skills/grounded/receipt/csv/qna.yaml"
    base = taxonomy_repo.commit_files({csv: skill([("Give the items as CSV.", "coffee,3.50\nmuffin,2.75")], receipt)})
    json_leaf = Path(taxonomy_repo.working_dir) / "compositional_skills/grounded/receipt/json/qna.yaml"
    json_leaf.parent.mkdir(parents=True)
    json_leaf.write_text(skill([("Give the items as JSON.", '[{"item": "coffee"}]')], receipt))
    cache = Path(taxonomy_repo.working_dir).parent / "cache"

    code = main(
        [
            "similar",
            "--taxonomy",
            taxonomy_repo.working_dir,
            "--base",
            base,
            "--format",
            "markdown",
            "--cache",
            str(cache),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Shared contexts (1): fine when the tasks differ" in out
    assert f"`{csv}:" in out
    assert any((cache / "similar").iterdir())
