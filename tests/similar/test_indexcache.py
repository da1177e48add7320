"""The index cache: built once per base commit, loaded after, rebuilt from the previous one leaf by leaf."""

from __future__ import annotations

import os
from pathlib import Path

import git
import pytest

from bot.similar.duplicates import find_duplicates
from bot.similar.indexcache import KEEP_INDEXES, IndexCacheError, commit_index, default_cache_dir, list_leaves
from bot.similar.seedindex import Thresholds
from bot.taxonomy.tree import parse_leaf
from tests.leaves import freeform_skill, grounded_skill, knowledge

A = "compositional_skills/arithmetic/addition/qna.yaml"
B = "compositional_skills/grounded/sales/qna.yaml"
K = "knowledge/geography/lakes/qna.yaml"


def test_leaves_are_listed_with_their_blobs_under_a_taxonomy_folder(tmp_path: Path) -> None:
    repo = git.Repo.init(tmp_path, initial_branch="main")
    files = {
        f"tax/{A}": freeform_skill(),
        f"tax/{B}": grounded_skill(),
        "tax/README.md": "x",
        f"other/{K}": knowledge(),
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    os.symlink("../addition/qna.yaml", tmp_path / "tax/compositional_skills/arithmetic/qna.yaml")
    repo.index.add([*files, "tax/compositional_skills/arithmetic/qna.yaml"])
    commit = repo.index.commit("base").hexsha
    leaves = list_leaves(repo, commit, "tax")
    assert [leaf.path for leaf in leaves] == [A, B]  # the link is left out, and so is the other folder
    assert leaves[0].blob == repo.commit(commit).tree[f"tax/{A}"].hexsha


def test_an_index_is_built_once_per_commit_then_loaded(taxonomy_repo) -> None:
    commit = taxonomy_repo.commit_files({A: freeform_skill(), B: grounded_skill(), K: knowledge()})
    cache = default_cache_dir(taxonomy_repo)
    assert cache == Path(taxonomy_repo.git_dir) / "taxbot-cache"

    _, stats = commit_index(taxonomy_repo, commit, "", Thresholds(), cache)
    assert (stats.loaded, stats.leaves, stats.parsed, stats.reused) == (False, 3, 3, 0)
    again, stats = commit_index(taxonomy_repo, commit, "", Thresholds(), cache)
    assert stats.loaded and again.leaf_count == 3
    assert [again.path(i) for i in range(3)] == sorted([A, B, K])

    # Other thresholds need other postings: a new index, its words taken over from the last.
    _, stats = commit_index(taxonomy_repo, commit, "", Thresholds(question=90), cache)
    assert (stats.loaded, stats.parsed, stats.reused) == (False, 0, 3)


def test_the_next_commit_reparses_only_the_leaves_it_changed_and_finds_the_same(taxonomy_repo) -> None:
    first = taxonomy_repo.commit_files({A: freeform_skill(), B: grounded_skill(), K: knowledge()})
    new = "compositional_skills/arithmetic/doubling/qna.yaml"
    second = taxonomy_repo.commit_files({A: freeform_skill(8), new: freeform_skill(6), K: None})
    warm, cold = Path(taxonomy_repo.git_dir) / "warm", Path(taxonomy_repo.git_dir) / "cold"
    commit_index(taxonomy_repo, first, "", Thresholds(), warm)

    incremental, stats = commit_index(taxonomy_repo, second, "", Thresholds(), warm)
    assert (stats.parsed, stats.reused, stats.leaves) == (2, 1, 3)
    fresh, _ = commit_index(taxonomy_repo, second, "", Thresholds(), cold)
    change = [parse_leaf(new, freeform_skill(7).encode())]
    found = find_duplicates(incremental, change, excluded=[new])
    assert found == find_duplicates(fresh, change, excluded=[new])
    assert {m.other.path for m in found} == {A}


def test_old_indexes_are_pruned_and_unreadable_leaves_counted(taxonomy_repo) -> None:
    cache = Path(taxonomy_repo.git_dir) / "c"
    commits = [taxonomy_repo.commit_files({A: freeform_skill(5 + i)}) for i in range(KEEP_INDEXES + 2)]
    for commit in commits:
        commit_index(taxonomy_repo, commit, "", Thresholds(), cache)
    assert len(list((cache / "similar").iterdir())) == KEEP_INDEXES
    broken = taxonomy_repo.commit_files({B: "seed_examples: [unclosed\n"})
    _, stats = commit_index(taxonomy_repo, broken, "", Thresholds(), cache)
    assert (stats.leaves, stats.unreadable) == (1, 1)


def test_a_cache_folder_that_cannot_be_written_is_a_clear_error(taxonomy_repo, tmp_path: Path) -> None:
    commit = taxonomy_repo.commit_files({A: freeform_skill()})
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")
    with pytest.raises(IndexCacheError, match=f"cannot write the index cache {not_a_folder}"):
        commit_index(taxonomy_repo, commit, "", Thresholds(), not_a_folder)
