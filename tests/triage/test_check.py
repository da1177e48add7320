"""Triage in a review: switches in .taxbot.yaml, the teacher's second opinion, the report, the eval set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.generation.teacher import Endpoint
from bot.github.comments import render_summary
from bot.github.events import make_review
from bot.review import ReportError, review_from_json
from bot.taxonomy.tree import parse_leaf
from bot.triage.check import TriageSettings, open_checks, triage, triage_settings
from bot.triage.hits import Check, Level
from tests.conftest import subprocess_env
from tests.fakes.openai_server import FakeOpenAI
from tests.leaves import ATTRIBUTION, freeform_skill
from tests.triage.evalset import found, planted_leaves, real_finding, real_leaves

LEAF = "compositional_skills/mail/qna.yaml"
TRIAGED = freeform_skill().replace(
    "answer: 2 plus 2 is 4.", "answer: 2 plus 2 is 4. Mail the result to maria.garcia17@gmail.com, you stupid idiot."
)


def test_findings_rows_and_a_switch_in_the_config(taxonomy_repo) -> None:
    base = taxonomy_repo.commit_files({".taxbot.yaml": "lint:\n  disable: [triage/abuse]\ntriage:\n  colour: 1\n"})
    head = taxonomy_repo.commit_files({LEAF: TRIAGED, LEAF.replace("qna.yaml", "attribution.txt"): ATTRIBUTION})
    review, _ = make_review(Path(taxonomy_repo.working_dir), base, head, {}, teacher=False)
    triage_findings = [f for f in review.findings if f.rule.startswith("triage/")]
    assert [(f.rule, f.line, str(f.severity)) for f in triage_findings] == [("triage/personal-data", 8, "warning")]
    assert "mar…com" in triage_findings[0].message and "gmail" not in triage_findings[0].message
    assert review.verdict == "pass"  # triage warns, it never blocks
    assert open_checks(review.parts["triage"]) == {Check.PERSONAL_DATA}
    assert any("unknown key `triage.colour`" in n.message for n in review.notes)
    assert "#### Triage" in render_summary(review)
    data = json.loads(json.dumps(review.to_json()))
    assert review_from_json(data).parts["triage"] == review.parts["triage"]
    data["parts"]["triage"][0]["level"] = "loud"
    with pytest.raises(ReportError, match="parts/triage/0/level"):
        review_from_json(data)


def test_settings_take_numbers_from_0_to_1_and_turn_checks_off_by_rule_id() -> None:
    settings, problems = triage_settings({"abuse_threshold": 0.5, "personal_data_min_score": "high"}, ["triage/secret"])
    assert settings.abuse_threshold == 0.5
    assert settings.personal_data_min_score == TriageSettings().personal_data_min_score
    assert Check.SECRET not in settings.checks and Check.ABUSE in settings.checks
    assert problems == [
        "`triage.personal_data_min_score` must be a number from 0 to 1, found 'high'; the default is used"
    ]


def test_the_teacher_is_a_second_opinion_and_its_silence_only_a_note(teacher_server: FakeOpenAI) -> None:
    text = freeform_skill().replace("answer: 3 plus 3 is 6.", "answer: Sure! Here's the sum, 6. I hope this helps!")
    leaf = parse_leaf(LEAF, text.encode())
    teacher_server.script = lambda _: '{"abusive": [1, 99], "machine_written": [3]}'
    teacher = Endpoint(teacher_server.base_url, "fake-teacher", retries=0, backoff_s=0)
    hits, notes = triage([(leaf, None)], TriageSettings(), teacher)
    assert notes == []
    by_check = {h.check: h for h in hits}
    assert by_check[Check.ABUSE].source == "teacher" and by_check[Check.ABUSE].line == 6  # seed 1; 99 is no seed
    assert by_check[Check.MACHINE_WRITTEN].level is Level.WARNING
    assert by_check[Check.MACHINE_WRITTEN].source == "signals; the teacher agrees"
    assert "abusive" in teacher_server.chat_requests[0]["messages"][0]["content"]
    teacher_server.fail(401, times=None)
    hits, notes = triage([(leaf, None)], TriageSettings(), teacher)
    assert [h.check for h in hits] == [Check.MACHINE_WRITTEN] and "no second opinion from the teacher" in notes[0]


def test_leaves_triaged_together_each_get_their_own_findings() -> None:
    rude = parse_leaf(LEAF, TRIAGED.encode())
    polite = parse_leaf("compositional_skills/polite/qna.yaml", freeform_skill().replace(
        "answer: 3 plus 3 is 6.", "answer: 3 plus 3 is 6, you worthless moron.").encode())  # fmt: skip
    clean = parse_leaf("compositional_skills/clean/qna.yaml", freeform_skill().encode())
    token = "ghp_16C7e42F292c6912E7710c838347Ae178B4a"
    hits, _ = triage([(rude, None), (clean, None), (polite, f"{ATTRIBUTION}Token: {token}\n")], TriageSettings())
    abusive = sorted((h.path, h.line) for h in hits if h.check is Check.ABUSE)
    assert abusive == [("compositional_skills/mail/qna.yaml", 8), ("compositional_skills/polite/qna.yaml", 10)]
    [secret] = [h for h in hits if h.check is Check.SECRET]
    assert secret.path == "compositional_skills/polite/attribution.txt" and secret.line == ATTRIBUTION.count("\n") + 1
    assert not [h for h in hits if h.path == clean.path]


@pytest.mark.shared_data
def test_planted_problems_in_real_leaves_are_found_and_the_clean_leaves_stay_quiet(shared_data: Path) -> None:
    leaves = real_leaves(shared_data)[::30]  # a sample; bench/bench_triage.py runs them all
    settings = TriageSettings(checks=frozenset(set(Check) - {Check.NEAR_DUPLICATE}))
    clean = [h for leaf in leaves for h in triage([(leaf, None)], settings)[0]
             if h.level is Level.WARNING and not real_finding(leaf.path, h.check)]  # fmt: skip
    planted = list(planted_leaves(leaves))
    missed = [p.planted for p in planted if not found(p, triage([(p.leaf, None)], settings)[0])]
    assert len(leaves) >= 5 and len(planted) == 4 * len(leaves)
    assert missed == []
    assert clean == []


def test_the_libraries_load_only_when_a_check_runs() -> None:
    code = (
        "import sys, bot.cli, bot.parts, bot.triage.check, bot.lint.batch\n"
        "heavy = [m for m in ('presidio_analyzer', 'spacy', 'profanity_check', 'sklearn', 'detect_secrets')"
        " if m in sys.modules]\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env(),
                            timeout=120, check=True)  # fmt: skip
    assert result.stdout.strip() == "[]"
