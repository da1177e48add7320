"""`lint`: one finding per problem, all of a file's problems in one pass, at the right lines."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.lint.leaf import LintCache, LintSettings, Profile, lint_bytes, lint_entry
from bot.taxonomy.findings import Finding, Severity
from bot.taxonomy.tree import DirectorySource
from tests.leaves import ATTRIBUTION, freeform_skill, grounded_skill, knowledge

STRICT = LintSettings(Profile.STRICT)
REFERENCE = LintSettings(Profile.REFERENCE)
SKILL = "compositional_skills/arithmetic/addition/qna.yaml"
GROUNDED = "compositional_skills/grounded/sales/apples/qna.yaml"
KNOWLEDGE = "knowledge/geography/lakes/qna.yaml"


def lint(text: str | bytes, path: str = SKILL, settings: LintSettings = STRICT, attribution: str | None = ATTRIBUTION):
    raw = text.encode() if isinstance(text, str) else text
    return lint_bytes(path, raw, attribution=attribution.encode() if attribution else None, settings=settings)


def rules(findings: list[Finding]) -> list[str]:
    return sorted(f.rule for f in findings)


@pytest.mark.parametrize(
    ("path", "text"), [(SKILL, freeform_skill()), (GROUNDED, grounded_skill()), (KNOWLEDGE, knowledge())]
)
def test_valid_leaves_of_each_kind_are_clean(path: str, text: str) -> None:
    assert lint(text, path) == []


def test_all_problems_of_a_file_come_in_one_pass_at_their_lines() -> None:
    text = freeform_skill(4).replace("created_by: tester\n", "created_by: tester\ncolour: blue\n")
    text = text.replace("answer: 2 plus 2 is 4.", "answer: 42")
    findings = lint(text)
    by_rule = {f.rule: f for f in findings}
    assert set(by_rule) == {"schema/minItems", "schema/type", "schema/unevaluatedProperties"}
    assert by_rule["schema/minItems"].message == "`seed_examples` needs at least 5 items, found 4"
    assert by_rule["schema/unevaluatedProperties"].line == 3  # the unknown key's own line
    assert "`colour`" in by_rule["schema/unevaluatedProperties"].message
    assert by_rule["schema/type"].line == 9  # the answer that is a number
    assert all(f.severity is Severity.ERROR for f in findings)


def test_missing_required_key_names_it() -> None:
    [finding] = lint(
        freeform_skill().replace("task_description: Add two small numbers and say the sum in a sentence.\n", "")
    )
    assert finding.rule == "schema/required"
    assert "`task_description`" in finding.message


def test_unknown_schema_version_says_which_exist() -> None:
    [finding] = lint(freeform_skill(version=9))
    assert finding.rule == "schema/unknown-version"
    assert "1, 2, 3" in finding.message


def test_version_1_knowledge_is_retired() -> None:
    text = "created_by: me\ndomain: x\nseed_examples:\n" + "".join(
        f"  - question: q{i}?\n    answer: a{i}\n" for i in range(5)
    )
    findings = lint(text, KNOWLEDGE, REFERENCE)
    assert [f.rule for f in findings] == ["schema/deprecated-version"]


def test_empty_file_is_an_error_in_strict_and_a_warning_in_reference() -> None:
    assert [(f.rule, f.severity) for f in lint("")] == [("empty", Severity.ERROR)]
    assert [(f.rule, f.severity) for f in lint("# nothing yet\n", settings=REFERENCE)] == [("empty", Severity.WARNING)]


def test_top_level_list_is_refused() -> None:
    [finding] = lint("- question: a\n  answer: b\n")
    assert finding.rule == "not-a-mapping"
    assert "not a list" in finding.message


def test_non_utf8_bytes_give_the_line() -> None:
    raw = freeform_skill().encode().replace(b"What is 3", b"What is \xe9 3")
    [finding] = lint(raw)
    assert (finding.rule, finding.line) == ("encoding", 9)


def test_binary_and_huge_files_are_findings_not_crashes() -> None:
    assert rules(lint(b"\x89PNG\r\n\x1a\n\0\0\0")) == ["binary"]
    huge = freeform_skill() + "# " + "x" * 1_100_000 + "\n"
    assert rules(lint(huge)) == ["too-large"]


def test_bom_crlf_and_tabs_are_reported_and_the_file_still_read() -> None:
    text = "\ufeff" + freeform_skill().replace("\n", "\r\n").replace(
        "task_description: Add two small numbers and say the sum in a sentence.",
        'task_description: "Add two numbers\tand say the sum."',
    )
    assert rules(lint(text)) == ["bom", "crlf", "tab"]


def test_alias_bomb_is_one_error() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    findings = lint("\n".join(lines) + "\n")
    assert [f.rule for f in findings if f.severity is Severity.ERROR] == ["yaml-syntax"]
    assert "alias bomb" in findings[0].message


def test_misnamed_file_is_an_error_and_still_checked_in_strict() -> None:
    findings = lint(freeform_skill(4), "compositional_skills/arithmetic/addition/QnA.yml")
    assert rules(findings) == ["file-name", "schema/minItems"]
    assert "rename `QnA.yml` to `qna.yaml`" in findings[0].message
    # The reference validator stops at the name.
    assert rules(lint(freeform_skill(4), "compositional_skills/a/qna.yml", REFERENCE)) == ["file-name"]


def test_attribution_is_required_from_version_2_with_an_allowed_licence() -> None:
    assert rules(lint(freeform_skill(), attribution=None)) == ["attribution-missing"]
    assert rules(lint(freeform_skill(), attribution="  \n")) == ["attribution-missing"]
    assert rules(lint(freeform_skill(version=1), attribution=None)) == []
    nc = ATTRIBUTION.replace("CC-BY-4.0", "CC BY-NC-SA 4.0")
    [finding] = lint(freeform_skill(), attribution=nc)
    assert finding.rule == "attribution-licence" and "CC BY-NC-SA 4.0" in finding.message
    assert lint(freeform_skill(), attribution=ATTRIBUTION.replace("CC-BY-4.0", "cc by sa 4.0")) == []


def test_knowledge_document_needs_a_full_commit_and_real_patterns() -> None:
    text = knowledge(commit="abc123").replace("    - lake.md\n", "    - lake.md\n    - ' '\n")
    findings = lint(text, KNOWLEDGE)
    assert rules(findings) == ["document-commit", "document-patterns"]
    commit = next(f for f in findings if f.rule == "document-commit")
    assert commit.line == 7 and "abc123" in commit.message


def test_word_budgets() -> None:
    long_answer = " ".join(["word"] * 600)
    skill = freeform_skill().replace("answer: 1 plus 1 is 2.", f"answer: {long_answer}")
    skill = skill.replace("answer: 2 plus 2 is 4.", f"answer: {long_answer}")
    skill = skill.replace("answer: 3 plus 3 is 6.", f"answer: {long_answer}")
    skill = skill.replace("answer: 4 plus 4 is 8.", f"answer: {long_answer}")
    assert rules(lint(skill)) == ["word-budget"]
    pair = knowledge().replace("answer: There are 1 islands (answer 0).", f"answer: {' '.join(['w'] * 260)}")
    [finding] = lint(pair, KNOWLEDGE)
    assert finding.rule == "word-budget" and finding.line == 14


def test_context_belongs_to_grounded_skills_only() -> None:
    freeform_path = "compositional_skills/writing/freeform/sums/qna.yaml"
    assert rules(lint(grounded_skill(), freeform_path)) == ["context-placement"]
    assert rules(lint(freeform_skill(), GROUNDED)) == ["context-placement"]
    mixed = grounded_skill().replace("  - context: The shop sold 3 apples on day 3.\n", "  -\n")
    assert rules(lint(mixed, "compositional_skills/sales/apples/qna.yaml")) == ["context-placement"]


def test_repeated_question_and_proprietary_model_names() -> None:
    text = freeform_skill().replace("What is 2 plus 2?", "what is 1 plus 1?")
    text = text.replace("answer: 5 plus 5 is 10.", "answer: As an AI language model, I say 10.")
    findings = lint(text)
    assert rules(findings) == ["proprietary-model", "repeated-question"]
    repeated = next(f for f in findings if f.rule == "repeated-question")
    assert (repeated.line, repeated.message) == (7, "this question is already asked at line 5")


def test_reference_profile_runs_only_the_reference_checks() -> None:
    text = freeform_skill().replace("answer: 5 plus 5 is 10.", "answer: ChatGPT says 10.")
    assert lint(text, "compositional_skills/Maths/qna.yaml", REFERENCE, attribution=None) == []


def test_disabled_rules_are_not_reported_but_reference_checks_always_are() -> None:
    settings = LintSettings(Profile.STRICT, frozenset({"folder-name", "attribution-missing"}))
    findings = lint(freeform_skill(4), "compositional_skills/Maths/qna.yaml", settings, attribution=None)
    assert rules(findings) == ["schema/minItems"]


def test_yamllint_errors_fail_the_file_at_their_line() -> None:
    text = freeform_skill().replace("say the sum in a sentence.", "say the sum in a sentence.   ")
    [finding] = lint(text)
    assert (finding.rule, finding.line, finding.severity) == ("yamllint/trailing-spaces", 3, Severity.ERROR)


def test_symlinked_leaf_is_a_finding_and_never_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password: hunter2\n")
    leaf = tmp_path / "tax" / "compositional_skills" / "x" / "qna.yaml"
    leaf.parent.mkdir(parents=True)
    os.symlink(secret, leaf)
    source = DirectorySource(tmp_path / "tax")
    entry = source.entry("compositional_skills/x/qna.yaml")
    assert entry is not None
    [finding] = lint_entry(entry, source, STRICT)
    assert finding.rule == "symlink"
    assert "hunter2" not in finding.message


def test_copies_of_one_file_are_linted_once_and_reported_at_each_path() -> None:
    cache = LintCache()
    text = freeform_skill(4).encode()
    first = lint_bytes("compositional_skills/a/qna.yaml", text, attribution=None, settings=STRICT, cache=cache)
    second = lint_bytes("compositional_skills/b/qna.yaml", text, attribution=None, settings=STRICT, cache=cache)
    assert len(cache.content) == 1
    assert [f.path for f in first] == ["compositional_skills/a/qna.yaml"] * 2
    assert [f.path for f in second] == ["compositional_skills/b/qna.yaml"] * 2


def test_no_file_of_the_real_taxonomy_crashes_the_strict_profile(shared_data: Path) -> None:
    for snapshot in ("taxonomy-2024-08", "taxonomy-2025-04"):
        source = DirectorySource(shared_data / snapshot)
        for entry in source.entries():
            if entry.path.endswith("qna.yaml"):
                for finding in lint_entry(entry, source, STRICT):
                    assert finding.line >= 1 and finding.col >= 1 and finding.message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400) | st.text(alphabet="ab:- \n\t'\"[]{}&*!|>#%@`,?yes", max_size=300))
def test_arbitrary_bytes_give_findings_never_an_exception(data: bytes | str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    for finding in lint_bytes(SKILL, raw, attribution=None, settings=STRICT):
        assert finding.path == SKILL and finding.line >= 1
