"""Under `--profile reference`, taxbot's verdict on every file equals instructlab-schema's validator's."""

from __future__ import annotations

import logging
import os
import random
import sys
from pathlib import Path

import pytest
from instructlab.schema.taxonomy import TaxonomyParser, TaxonomyReadingException

from bot.lint.leaf import LintSettings, Profile, lint_bytes, lint_entry
from bot.taxonomy.findings import has_errors
from bot.taxonomy.tree import DirectorySource
from tests.conftest import write_tree
from tests.leaves import ATTRIBUTION, freeform_skill, knowledge

REFERENCE = LintSettings(Profile.REFERENCE)


@pytest.fixture
def reference(monkeypatch: pytest.MonkeyPatch) -> TaxonomyParser:
    # The reference shells out to `yamllint`; without it on PATH it silently skips YAML style.
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    logging.getLogger("instructlab.schema").setLevel(logging.CRITICAL)
    return TaxonomyParser(schema_version=0, message_format="logging")


def reference_fails(parser: TaxonomyParser, path: Path) -> bool:
    try:
        return parser.parse(path).errors > 0
    except TaxonomyReadingException:  # the reference crashes on some real files: its CI fails them
        return True


def verdicts(parser: TaxonomyParser, root: Path) -> tuple[dict[str, bool], dict[str, bool]]:
    source = DirectorySource(root)
    ours, theirs = {}, {}
    for entry in source.entries():
        if Path(entry.path).name.lower() in ("qna.yaml", "qna.yml"):
            ours[entry.path] = has_errors(lint_entry(entry, source, REFERENCE))
            theirs[entry.path] = reference_fails(parser, root / entry.path)
    return ours, theirs


@pytest.mark.parametrize("snapshot", ["taxonomy-2024-08", "taxonomy-2025-04"])
def test_same_verdicts_as_the_reference_on_the_real_taxonomy(
    snapshot: str, shared_data: Path, reference: TaxonomyParser
) -> None:
    ours, theirs = verdicts(reference, shared_data / snapshot)
    assert len(ours) >= 16
    assert ours == theirs


CRAFTED: dict[str, str | bytes] = {
    "compositional_skills/ok/qna.yaml": freeform_skill(),
    "compositional_skills/ok_v1/qna.yaml": freeform_skill(version=1),
    "compositional_skills/crlf/qna.yaml": freeform_skill().replace("\n", "\r\n"),
    "compositional_skills/bom/qna.yaml": "\ufeff" + freeform_skill(),
    "compositional_skills/duplicate_key/qna.yaml": freeform_skill().replace(
        "created_by: tester\n", "created_by: tester\ncreated_by: other\n"
    ),
    "compositional_skills/duplicate_key_v1/qna.yaml": freeform_skill(version=1).replace(
        "created_by: tester\n", "created_by: tester\ncreated_by: other\n"
    ),
    "compositional_skills/yes_answer/qna.yaml": freeform_skill().replace("answer: 1 plus 1 is 2.", "answer: yes"),
    "compositional_skills/trailing_space/qna.yaml": freeform_skill().replace("is 2.", "is 2.  "),
    "compositional_skills/no_final_newline/qna.yaml": freeform_skill().rstrip("\n"),
    "compositional_skills/tab_in_plain/qna.yaml": freeform_skill().replace("plus 1 is", "plus\t1 is"),
    "compositional_skills/too_few/qna.yaml": freeform_skill(3),
    "compositional_skills/unknown_key/qna.yaml": freeform_skill() + "colour: blue\n",
    "compositional_skills/version_9/qna.yaml": freeform_skill(version=9),
    "compositional_skills/version_text/qna.yaml": freeform_skill().replace("version: 3", "version: three"),
    "compositional_skills/empty/qna.yaml": "",
    "compositional_skills/only_comment/qna.yaml": "# to do\n",
    "compositional_skills/list/qna.yaml": "- a\n- b\n",
    "compositional_skills/scalar/qna.yaml": "just words\n",
    "compositional_skills/misnamed/qna.yml": freeform_skill(),
    "compositional_skills/syntax/qna.yaml": "version: 3\nseed_examples: [\n",
    "compositional_skills/latin1/qna.yaml": freeform_skill().encode().replace(b"tester", b"t\xe9ster"),
    "knowledge/ok/qna.yaml": knowledge(),
    "knowledge/short_commit/qna.yaml": knowledge(commit="abc"),
    "knowledge/no_document/qna.yaml": knowledge().split("document:")[0] + "seed_examples: []\n",
}


def test_same_verdicts_as_the_reference_on_crafted_files(tmp_path: Path, reference: TaxonomyParser) -> None:
    write_tree(tmp_path, CRAFTED)
    for rel in CRAFTED:
        write_tree(tmp_path, {str(Path(rel).parent / "attribution.txt"): ATTRIBUTION})
    ours, theirs = verdicts(reference, tmp_path)
    assert set(ours) == set(CRAFTED)
    mismatched = {path: (ours[path], theirs[path]) for path in ours if ours[path] != theirs[path]}
    assert mismatched == {}
    # The crafted set exercises both verdicts.
    assert 5 < sum(theirs.values()) < len(theirs) - 3


_MUTATIONS = ["\t", " ", "  ", ":", "- ", "'", '"', "#", "\n", "yes", "&a ", "*a", "{", "}", "[", "]", "|", "> ",
              "---", "\r\n", "\ufeff", "?", "!!str ", "%", "@", "`"]  # fmt: skip


def test_same_verdicts_as_the_reference_on_randomly_broken_leaves(tmp_path: Path, reference: TaxonomyParser) -> None:
    """Valid leaves with a few YAML-significant characters dropped in at random: parser edge cases."""
    rng = random.Random(20261123)
    leaf = tmp_path / "compositional_skills" / "x" / "qna.yaml"
    leaf.parent.mkdir(parents=True)
    mismatched, failing = [], 0
    for _ in range(80):
        text = list(rng.choice([freeform_skill(), freeform_skill(version=1), freeform_skill(version=2)]))
        for _ in range(rng.randint(1, 3)):
            text.insert(rng.randrange(len(text)), rng.choice(_MUTATIONS))
        leaf.write_text("".join(text), encoding="utf-8")
        theirs = reference_fails(reference, leaf)
        ours = has_errors(lint_bytes("compositional_skills/x/qna.yaml", leaf.read_bytes(), attribution=None,
                                     settings=REFERENCE))  # fmt: skip
        failing += theirs
        if ours != theirs:
            mismatched.append("".join(text))
    assert mismatched == []
    assert 10 < failing < 70  # the mutations break some leaves and leave others valid
