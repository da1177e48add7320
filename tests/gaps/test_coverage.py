"""`taxbot gaps`: coverage, empty branches, short leaves, where a change lands, and what the student knows."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from bot.cli import main
from bot.gaps.coverage import GapsSettings, gaps_settings, landings, tree_gaps
from bot.taxonomy.findings import Severity
from bot.taxonomy.tree import load_directory, parse_leaf
from tests.conftest import write_tree
from tests.leaves import freeform_skill, grounded_skill, knowledge

ADD = "compositional_skills/arithmetic/addition/qna.yaml"
SALES = "compositional_skills/grounded/sales/qna.yaml"
LAKES = "knowledge/geography/lakes/qna.yaml"
TREE = {
    ADD: freeform_skill(),
    "compositional_skills/arithmetic/doubling/qna.yaml": freeform_skill(3, version=1),
    SALES: grounded_skill(),
    LAKES: knowledge(),
    "knowledge/history/.gitignore": "",
    "knowledge/history/rome/.gitignore": "",
    "knowledge/history/greece/.gitkeep": "",
    "knowledge/arts/.gitignore": "",
    "knowledge/arts/README.md": "to come\n",
    "foundational_skills/.gitignore": "",
}


def skill(task: str, pairs: list[tuple[str, str]]) -> str:
    seeds = [{"question": q, "answer": a} for q, a in pairs]
    return yaml.safe_dump({"version": 3, "task_description": task, "created_by": "t", "seed_examples": seeds})


def test_coverage_counts_leaves_examples_and_words_per_branch(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    gaps = tree_gaps(load_directory(tmp_path), 5)
    coverage = {c.branch: (c.leaves, c.seed_examples) for c in gaps.coverage}
    assert coverage == {
        "compositional_skills": (3, 13),
        "compositional_skills/arithmetic": (2, 8),
        "compositional_skills/grounded": (1, 5),
        "knowledge": (1, 5),  # five contexts of three questions each: five seed examples, as the schema counts
        "knowledge/geography": (1, 5),
    }
    assert {c.branch: c.words for c in gaps.coverage}["knowledge/geography"] > 0


def test_empty_branches_are_folders_of_placeholders_only_reported_at_the_top(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    gaps = tree_gaps(load_directory(tmp_path), 5)
    assert gaps.empty_branches == {"foundational_skills": 0, "knowledge/history": 2}  # arts has a README


def test_leaves_under_the_minimum_are_listed_with_their_version(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    gaps = tree_gaps(load_directory(tmp_path), 5)
    assert [(s.path, s.examples, s.version) for s in gaps.short_leaves] == [
        ("compositional_skills/arithmetic/doubling/qna.yaml", 3, 1)
    ]


def test_a_change_lands_beside_siblings_in_a_new_branch_or_away_from_its_kind(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    tree = load_directory(tmp_path)
    beside = parse_leaf("compositional_skills/arithmetic/tripling/qna.yaml", freeform_skill(5).encode())
    fresh = parse_leaf("knowledge/astronomy/moons/qna.yaml", knowledge().encode())
    astray = parse_leaf("compositional_skills/grounded/sums/qna.yaml", freeform_skill(6).encode())
    first, second, third = landings(tree, [beside, fresh, astray])

    assert first.new_folders is None and first.branch == "compositional_skills/arithmetic"
    assert first.siblings == [ADD, "compositional_skills/arithmetic/doubling/qna.yaml"]
    assert first.by_path[0].path in first.siblings and first.elsewhere is None

    assert second.new_folders == "knowledge/astronomy" and second.siblings == []
    assert second.by_content[0].path == LAKES and second.elsewhere is None  # a new domain of knowledge
    skill_as_knowledge = parse_leaf("knowledge/maths/sums/qna.yaml", freeform_skill(6).encode())
    assert landings(tree, [skill_as_knowledge])[0].elsewhere == "compositional_skills"

    assert third.new_folders is None and third.siblings == [SALES]
    assert third.by_content[0].path == ADD
    assert third.elsewhere == "compositional_skills/arithmetic"


def test_a_modified_leaf_is_not_its_own_nearest_neighbour(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    [landing] = landings(load_directory(tmp_path), [parse_leaf(ADD, freeform_skill(7).encode())], excluded=[ADD])
    assert ADD not in [n.path for n in landing.by_content + landing.by_path]
    assert landing.siblings == ["compositional_skills/arithmetic/doubling/qna.yaml"]


def test_settings_are_checked_and_defaults_kept() -> None:
    assert gaps_settings({"min_examples": 3, "student_pass": 75}) == (GapsSettings(3, 75.0), [])
    settings, problems = gaps_settings({"min_examples": 2.5, "student_pass": 101, "depth": 2})
    assert settings == GapsSettings()
    assert [(p.severity, p.message[:20]) for p in problems] == [
        (Severity.ERROR, "`gaps.min_examples` "),
        (Severity.ERROR, "`gaps.student_pass` "),
        (Severity.WARNING, "unknown key `gaps.de"),
    ]


def test_real_tree_coverage_empty_branches_and_short_leaves(shared_data: Path, capsys) -> None:
    assert main(["gaps", "--taxonomy", str(shared_data / "taxonomy-2024-08"), "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    coverage = {c["branch"]: c["leaves"] for c in report["coverage"]}
    assert (coverage["compositional_skills"], coverage["foundational_skills"], coverage["knowledge"]) == (135, 11, 1)
    assert report["empty_branches"]["knowledge/science"] == 16
    assert len(report["short_leaves"]) == 128 and {s["version"] for s in report["short_leaves"]} == {1}


FACTS = [
    ("Which planet is closest to the sun?", "Mercury is the planet closest to the sun."),
    ("What gas do plants take in for photosynthesis?", "Plants take in carbon dioxide."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What is the capital of Australia?", "The capital of Australia is Canberra."),
    ("Who wrote the novel Middlemarch?", "George Eliot wrote Middlemarch."),
]
NEW = "knowledge/general/facts/qna.yaml"


def test_gaps_of_a_change_say_where_it_lands_and_what_the_student_knows(
    taxonomy_repo, teacher_server, monkeypatch, capsys
) -> None:
    base = taxonomy_repo.commit_files({**TREE, ".taxbot.yaml": "student:\n  retries: 0\n  timeout_s: 5\n"})
    taxonomy_repo.commit_files({NEW: skill("Answer general knowledge questions.", FACTS)})
    monkeypatch.setenv("TAXBOT_STUDENT_URL", teacher_server.base_url)
    monkeypatch.setenv("TAXBOT_STUDENT_MODEL", "granite-student")
    teacher_server.script = lambda request: "I do not know."
    args = ["gaps", "--taxonomy", taxonomy_repo.working_dir, "--base", base, "--head", "HEAD"]

    assert main([*args, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    assert f"- `{NEW}`\n  - starts a new branch knowledge/general" in markdown
    assert "  - student: the student gets all 5 wrong: this fills a gap" in markdown

    teacher_server.fail(500, times=None)
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "note: could not ask the student granite-student at http://127.0.0.1:" in text
    assert "model gaps were not checked: no answer after 1 tries: HTTP 500" in text
    assert "student:" not in text


def test_gaps_without_a_student_say_so_and_head_needs_base(taxonomy_repo, capsys) -> None:
    base = taxonomy_repo.commit_files(TREE)
    taxonomy_repo.commit_files({NEW: skill("Answer general knowledge questions.", FACTS)})
    assert main(["gaps", "--taxonomy", taxonomy_repo.working_dir, "--base", base, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notes"] == [
        "no student is configured, so model gaps were not checked (set TAXBOT_STUDENT_URL and _MODEL)"
    ]
    assert [x["path"] for x in report["landings"]] == [NEW]
    assert main(["gaps", "--taxonomy", taxonomy_repo.working_dir, "--head", "HEAD"]) == 2
    assert "--head needs --base" in capsys.readouterr().err
