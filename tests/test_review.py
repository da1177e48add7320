"""`taxbot review`: the demo a new user runs first, parts that fail become notes, the JSON schema holds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.github.events import make_review
from bot.review import ReportError, review_from_json
from bot.taxonomy.findings import Severity
from tests.conftest import REPO_ROOT, subprocess_env
from tests.fakes.lab_teacher import LabTeacher
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    target = tmp_path / "demo"
    subprocess.run(
        ["sh", str(REPO_ROOT / "fixtures" / "make-demo-repo.sh"), str(target)],
        check=True,
        capture_output=True,
        env=subprocess_env(),
    )
    return target


def test_the_readme_demo_reviews_the_demo_contribution(demo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "review", "--taxonomy", str(demo), "--base", "HEAD~1", "--head", "HEAD"],
        capture_output=True,
        text=True,
        env=subprocess_env(),
        timeout=120,
    )
    assert result.returncode == 1
    assert "### taxbot review: ❌ changes needed" in result.stdout
    assert "`seed_examples` needs at least 5 items, found 4" in result.stdout
    assert "no teacher is configured" in result.stdout


def test_samples_from_the_teacher_and_a_dead_teacher_is_a_note(demo: Path, teacher_server: FakeOpenAI) -> None:
    env = {"TAXBOT_TEACHER_URL": teacher_server.base_url, "TAXBOT_TEACHER_MODEL": "m"}
    teacher_server.script = LabTeacher()
    review, _ = make_review(demo, "HEAD~1", "HEAD", env, teacher=True)
    assert len(review.samples) == 3
    assert {s.leaf for s in review.samples} == {"compositional_skills/linguistics/Palindromes/qna.yaml"}
    teacher_server.fail(401, times=None)  # refused at once; a 5xx would be retried with back-off first
    review, _ = make_review(demo, "HEAD~1", "HEAD", env, teacher=True)
    assert review.samples == []
    assert any("the teacher cannot be used" in n.message and "HTTP 401" in n.message for n in review.notes)
    assert review.findings  # the lint result still stands


def test_json_report_round_trips_through_its_schema(demo: Path) -> None:
    review, _ = make_review(demo, "HEAD~1", "HEAD", {}, teacher=False)
    data = json.loads(json.dumps(review.to_json()))
    again = review_from_json(data)
    assert again.to_json() == review.to_json()
    with pytest.raises(ReportError, match="does not match its schema"):
        review_from_json(data | {"verdict": "maybe"})


def test_a_copied_leaf_shows_as_duplicates_and_the_student_precheck_runs(
    taxonomy_repo, teacher_server: FakeOpenAI
) -> None:
    from bot.github.comments import Links, render_summary
    from tests.leaves import ATTRIBUTION, freeform_skill

    original = "compositional_skills/arithmetic/addition/qna.yaml"
    copy = "compositional_skills/maths/sums/qna.yaml"
    base = taxonomy_repo.commit_files(
        {original: freeform_skill(), original.replace("qna.yaml", "attribution.txt"): ATTRIBUTION}
    )
    head = taxonomy_repo.commit_files(
        {copy: freeform_skill(), copy.replace("qna.yaml", "attribution.txt"): ATTRIBUTION}
    )
    teacher_server.script = lambda request: "I do not know."
    env = {"TAXBOT_STUDENT_URL": teacher_server.base_url, "TAXBOT_STUDENT_MODEL": "student"}
    review, _ = make_review(Path(taxonomy_repo.working_dir), base, head, env, teacher=True)
    duplicates = [f for f in review.findings if f.rule.startswith("similar/")]
    assert len(duplicates) == 5 and {f.path for f in duplicates} == {copy}
    # A copied seed example fails the review as it fails `taxbot similar` (exit 1): both say "duplicate".
    assert review.verdict == "fail" and {f.severity for f in duplicates} == {Severity.ERROR}
    assert review.parts["precheck"] == [{"leaf": copy, "student": "the student gets all 5 wrong: this fills a gap"}]
    body = render_summary(review, Links("https://github.example/community/taxonomy"))
    assert "#### Duplicates" in body
    assert f"(https://github.example/community/taxonomy/blob/{base}/{original}#L5)" in body


def test_parts_that_did_not_run_say_so_and_a_bad_teacher_section_is_a_note(taxonomy_repo) -> None:
    from bot.github.comments import render_summary
    from tests.leaves import ATTRIBUTION, freeform_skill

    leaf = "compositional_skills/arithmetic/addition/qna.yaml"
    config = "teacher:\n  url: https://teacher.invalid/v1\n  temprature: 1\n"
    base = taxonomy_repo.commit_files({".taxbot.yaml": config})
    attribution = leaf.replace("qna.yaml", "attribution.txt")
    head = taxonomy_repo.commit_files({leaf: freeform_skill(), attribution: ATTRIBUTION})
    review, _ = make_review(Path(taxonomy_repo.working_dir), base, head, {}, teacher=True)
    notes = [n.message for n in review.notes]
    assert any(n.startswith("samples: not run: the `teacher:` section of .taxbot.yaml") and "temprature" in n
               for n in notes), notes  # fmt: skip
    assert any(n.startswith("not run: no student is configured") for n in notes), notes
    assert "precheck" not in review.parts and review.verdict == "pass"
    body = render_summary(review)
    assert "#### Precheck" not in body and "None found" not in body.split("#### Duplicates")[0]


def test_placement_advice_only_for_leaves_added_or_moved(taxonomy_repo) -> None:
    from tests.leaves import ATTRIBUTION, freeform_skill

    alone = "compositional_skills/puzzles/riddles/qna.yaml"
    files = {alone: freeform_skill(), alone.replace("qna.yaml", "attribution.txt"): ATTRIBUTION}
    base = taxonomy_repo.commit_files(files)
    edited = taxonomy_repo.commit_files({alone: freeform_skill().replace("1 plus 1 is 2.", "One plus one is two.")})
    moved = taxonomy_repo.commit_files(
        {alone: None, "compositional_skills/games/riddles/qna.yaml": freeform_skill(),
         "compositional_skills/games/riddles/attribution.txt": ATTRIBUTION}, "move")  # fmt: skip
    review, _ = make_review(Path(taxonomy_repo.working_dir), base, edited, {}, teacher=False)
    [row] = review.parts["gaps"]
    assert row["lands in"] == "compositional_skills/puzzles (edited in place)" and row["check"] == ""
    review, _ = make_review(Path(taxonomy_repo.working_dir), edited, moved, {}, teacher=False)
    [row] = review.parts["gaps"]
    assert row["lands in"] == "new branch compositional_skills/games"
