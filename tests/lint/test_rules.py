"""The community's rules as a careful triager applies them: no false alarms on what the reference accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.lint.batch import collect_targets, lint_targets
from bot.lint.leaf import LintSettings, Profile, lint_bytes
from bot.lint.rules import spdx_licence
from bot.taxonomy.findings import Finding, Severity
from tests.leaves import ATTRIBUTION, freeform_skill, grounded_skill, knowledge

STRICT = LintSettings(Profile.STRICT)
SKILL = "compositional_skills/arithmetic/addition/qna.yaml"
GROUNDED = "compositional_skills/grounded/sales/apples/qna.yaml"
KNOWLEDGE = "knowledge/geography/lakes/qna.yaml"


def lint(text: str, path: str = SKILL, licence: str = "CC-BY-4.0") -> list[Finding]:
    attribution = ATTRIBUTION.replace("CC-BY-4.0", licence).encode()
    return lint_bytes(path, text.encode(), attribution=attribution, settings=STRICT)


@pytest.mark.parametrize(
    ("written", "spdx"),
    [
        ("Creative Commons Attribution-ShareAlike 4.0 International", "CC-BY-SA-4.0"),
        ("CC BY-SA 4.0", "CC-BY-SA-4.0"),
        ("cc-by-4.0", "CC-BY-4.0"),
        ("Apache License, Version 2.0", "Apache-2.0"),
        ("MIT License", "MIT"),
        ("CC0 1.0 Universal", "CC0-1.0"),
        ("Community Data License Agreement Permissive 2.0", "CDLA-Permissive-2.0"),
        ("CC BY-NC-SA 4.0", "CC-BY-NC-SA-4.0"),
        ("Self-authored", None),
    ],
)
def test_licences_are_read_by_their_spdx_names_and_common_spellings(written: str, spdx: str | None) -> None:
    assert spdx_licence(written) == spdx


def test_a_spelled_out_allowed_licence_passes_and_a_refused_one_names_its_spdx_id() -> None:
    assert lint(freeform_skill(), licence="Creative Commons Attribution-ShareAlike 4.0") == []
    [refused] = lint(freeform_skill(), licence="Creative Commons Attribution-NonCommercial 4.0 International")
    assert refused.rule == "attribution-licence" and refused.severity is Severity.ERROR
    assert "(SPDX `CC-BY-NC-4.0`)" in refused.message


def test_a_short_commit_is_a_warning_to_pin_it_and_a_non_commit_an_error() -> None:
    [short] = lint(knowledge(commit="5f7158a"), KNOWLEDGE)
    assert (short.rule, short.severity, short.line) == ("document-commit", Severity.WARNING, 7)
    assert "pin the full commit" in short.message and "git rev-parse 5f7158a" in short.message
    [branch] = lint(knowledge(commit="main"), KNOWLEDGE)
    assert (branch.rule, branch.severity) == ("document-commit", Severity.ERROR)
    assert "not a commit hash" in branch.message


def test_a_grounded_skill_asks_one_instruction_over_different_contexts_but_not_twice_over_one() -> None:
    same_question = grounded_skill()
    for day in range(1, 6):
        same_question = same_question.replace(f"How many apples were sold on day {day}?", "How many apples were sold?")
    assert lint(same_question, GROUNDED) == []
    same_context = same_question.replace("The shop sold 2 apples on day 2.\n    question", "The shop sold 1 apples on "
                                         "day 1.\n    question")  # fmt: skip
    [repeated] = lint(same_context, GROUNDED)
    assert (repeated.rule, repeated.line) == ("repeated-question", 9)  # the second question, same context


def test_an_unknown_key_is_reported_on_its_own_line_when_its_value_starts_below() -> None:
    text = freeform_skill().replace("created_by: tester\n", "created_by: tester\nnotes:\n  - from the wiki\n")
    [unknown] = [f for f in lint(text) if f.rule == "schema/unevaluatedProperties"]
    assert (unknown.line, unknown.col) == (3, 1)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("question: What is this: a test?\n", "put the whole value in quotes"),
        ("question: a\nanswer b\nc: d\n", "add the missing `:`"),
        ("question: @handle\n", "cannot start with `@`"),
        ('question: "never closed\nanswer: x\n', "never closed"),
    ],
)
def test_yaml_syntax_errors_say_in_plain_words_what_to_do(text: str, words: str) -> None:
    [finding] = lint(text)
    assert words in finding.message and "while scanning" not in finding.message
    assert finding.line == 1 or "`:`" in words


def test_a_folder_above_the_taxonomy_finds_its_root(tmp_path: Path) -> None:
    leaf = tmp_path / "checkouts" / "taxonomy" / SKILL
    leaf.parent.mkdir(parents=True)
    leaf.write_text(freeform_skill())
    (leaf.parent / "attribution.txt").write_text(ATTRIBUTION)
    [target] = collect_targets([str(tmp_path / "checkouts")], None)
    assert (target.root, target.path) == (tmp_path / "checkouts" / "taxonomy", SKILL)
    assert lint_targets([target], Profile.STRICT) == []  # no folder-name warning for `checkouts`


def test_the_real_taxonomies_raise_no_false_alarms(shared_data: Path) -> None:
    """On files the reference accepts, strict adds no error a triager would overrule."""
    findings = {
        snapshot: lint_targets(collect_targets([str(shared_data / snapshot)], None), Profile.STRICT)
        for snapshot in ("taxonomy-2024-08", "taxonomy-2025-04")
    }
    repeated = {
        Path(f.path).relative_to(shared_data).parent.as_posix()
        for found in findings.values()
        for f in found
        if f.rule == "repeated-question"
    }
    # The inclusion skill asks one instruction over several sentences; the invoice leaf repeats a context
    # with its question (a copied seed example), which is worth a warning.
    assert repeated == {"taxonomy-2024-08/compositional_skills/extraction/invoice/csv"}
    licences = [f.message for found in findings.values() for f in found if f.rule == "attribution-licence"]
    # What stays is true: a non-commercial licence, and attribution files with no licence line at all.
    assert all("CC BY-NC-SA 4.0" in m or "no `License of the work:` line" in m for m in licences), licences
    assert not [f for found in findings.values() for f in found if f.rule == "document-commit"]
