"""The taxonomy model: leaves, kinds, versions and seed examples, from a folder or a git commit."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.taxonomy.tree import LeafKind, git_source, load_directory, load_taxonomy
from tests.conftest import write_tree
from tests.leaves import freeform_skill, grounded_skill, knowledge

TREE: dict[str, str | bytes] = {
    "compositional_skills/arithmetic/addition/qna.yaml": freeform_skill(),
    "compositional_skills/grounded/sales/qna.yaml": grounded_skill(),
    "knowledge/geography/lakes/qna.yaml": knowledge(),
    "foundational_skills/reasoning/qna.yaml": freeform_skill(version=2),
    "compositional_skills/broken/qna.yaml": "seed_examples: [\n",
    "compositional_skills/empty_branch/.gitignore": "",
}


def test_leaves_from_a_folder_with_kind_version_and_seed_lines(tmp_path: Path) -> None:
    write_tree(tmp_path, TREE)
    taxonomy = load_directory(tmp_path)
    kinds = {path: leaf.kind for path, leaf in taxonomy.leaves.items()}
    assert kinds == {
        "compositional_skills/arithmetic/addition/qna.yaml": LeafKind.FREEFORM_SKILL,
        "compositional_skills/grounded/sales/qna.yaml": LeafKind.GROUNDED_SKILL,
        "knowledge/geography/lakes/qna.yaml": LeafKind.KNOWLEDGE,
        "foundational_skills/reasoning/qna.yaml": LeafKind.FOUNDATIONAL_SKILL,
    }
    assert taxonomy.leaves["foundational_skills/reasoning/qna.yaml"].version == 2
    lakes = taxonomy.leaves["knowledge/geography/lakes/qna.yaml"]
    assert len(lakes.seed_examples) == 15  # 5 contexts x 3 questions, flattened
    first = lakes.seed_examples[0]
    assert (first.question_line, first.answer_line, first.context_line) == (14, 15, 11)
    assert first.context == "Fact block 1: the lake has 1 islands and 2 bays."
    assert lakes.task == "geography - Facts about a lake"
    assert list(taxonomy.unreadable) == ["compositional_skills/broken/qna.yaml"]


def test_leaves_from_a_commit_without_checkout(taxonomy_repo) -> None:
    first = taxonomy_repo.commit_files(TREE)
    taxonomy_repo.commit_files({"compositional_skills/arithmetic/addition/qna.yaml": freeform_skill(7)})
    # Change the work tree too: reading a commit must not see it.
    write_tree(Path(taxonomy_repo.working_dir), {"knowledge/geography/lakes/qna.yaml": "garbage: ["})
    at_first = load_taxonomy(git_source(Path(taxonomy_repo.working_dir), first))
    at_head = load_taxonomy(git_source(Path(taxonomy_repo.working_dir), "HEAD"))
    path = "compositional_skills/arithmetic/addition/qna.yaml"
    assert len(at_first.leaves[path].seed_examples) == 5
    assert len(at_head.leaves[path].seed_examples) == 7
    assert "knowledge/geography/lakes/qna.yaml" in at_head.leaves


def test_a_taxonomy_in_a_subfolder_of_the_repository(taxonomy_repo) -> None:
    taxonomy_repo.commit_files({f"taxonomy/{k}": v for k, v in TREE.items()} | {"README.md": "hi"})
    source = git_source(Path(taxonomy_repo.working_dir) / "taxonomy", "HEAD")
    assert "knowledge/geography/lakes/qna.yaml" in load_taxonomy(source).leaves


def test_unknown_commit_is_a_clear_error(taxonomy_repo) -> None:
    from bot.taxonomy.tree import TaxonomyError

    taxonomy_repo.commit_files(TREE)
    with pytest.raises(TaxonomyError, match="no commit 'nope'"):
        git_source(Path(taxonomy_repo.working_dir), "nope")


def test_real_snapshot_loads_every_leaf(shared_data: Path) -> None:
    taxonomy = load_directory(shared_data / "taxonomy-2024-08")
    assert len(taxonomy.leaves) == 147 and not taxonomy.unreadable
    kinds = {leaf.kind for leaf in taxonomy.leaves.values()}
    assert kinds == set(LeafKind)
    receipt = taxonomy.leaves["compositional_skills/extraction/receipt/markdown/qna.yaml"]
    assert receipt.kind is LeafKind.GROUNDED_SKILL
