"""`taxbot diff`: which leaves a change adds, modifies, renames or deletes, and their findings."""

from __future__ import annotations

import json
from pathlib import Path

from bot.cli import main
from bot.taxonomy.diff import ChangeStatus, LeafChange, changed_leaves
from tests.conftest import write_tree
from tests.leaves import ATTRIBUTION, freeform_skill, grounded_skill, knowledge

A = "compositional_skills/arithmetic/addition/qna.yaml"
B = "compositional_skills/grounded/sales/qna.yaml"
K = "knowledge/geography/lakes/qna.yaml"


def base_tree(repo) -> str:
    return repo.commit_files(
        {
            A: freeform_skill(),
            A.replace("qna.yaml", "attribution.txt"): ATTRIBUTION,
            B: grounded_skill(),
            B.replace("qna.yaml", "attribution.txt"): ATTRIBUTION,
            K: knowledge(),
            K.replace("qna.yaml", "attribution.txt"): ATTRIBUTION,
            "README.md": "a taxonomy\n",
        },
        "base",
    )


def test_added_modified_renamed_deleted_between_commits(taxonomy_repo) -> None:
    base = base_tree(taxonomy_repo)
    new = "compositional_skills/arithmetic/subtraction/qna.yaml"
    moved = "compositional_skills/grounded/shop/sales/qna.yaml"
    (Path(taxonomy_repo.working_dir) / moved).parent.mkdir(parents=True)
    taxonomy_repo.git.mv(B, moved)
    head = taxonomy_repo.commit_files(
        {
            new: freeform_skill(),
            A: freeform_skill(6),
            K: None,
            "README.md": "changed\n",
        },
        "change",
    )
    changes = changed_leaves(Path(taxonomy_repo.working_dir), base, head).changes
    assert changes == sorted(
        [
            LeafChange(A, ChangeStatus.MODIFIED),
            LeafChange(new, ChangeStatus.ADDED),
            LeafChange(moved, ChangeStatus.RENAMED, B),
            LeafChange(K, ChangeStatus.DELETED),
        ]
    )


def test_work_tree_changes_include_untracked_leaves(taxonomy_repo) -> None:
    base = base_tree(taxonomy_repo)
    root = Path(taxonomy_repo.working_dir)
    write_tree(root, {"knowledge/history/new_leaf/qna.yaml": knowledge(), A: freeform_skill(8)})
    changes = changed_leaves(root, base).changes
    assert changes == [
        LeafChange(A, ChangeStatus.MODIFIED),
        LeafChange("knowledge/history/new_leaf/qna.yaml", ChangeStatus.ADDED),
    ]


def test_an_attribution_change_brings_its_leaf_into_the_review(taxonomy_repo) -> None:
    base = base_tree(taxonomy_repo)
    head = taxonomy_repo.commit_files({A.replace("qna.yaml", "attribution.txt"): "License of the work: CC-BY-NC-4.0\n"})
    assert changed_leaves(Path(taxonomy_repo.working_dir), base, head).changes == [LeafChange(A, ChangeStatus.MODIFIED)]


def test_diff_lints_only_what_changed_reading_the_head_commit(taxonomy_repo, capsys) -> None:
    base = base_tree(taxonomy_repo)
    head = taxonomy_repo.commit_files({"compositional_skills/new/QnA.yml": freeform_skill(3)}, "bad leaf")
    # A later work-tree edit must not leak into a diff between two commits.
    write_tree(Path(taxonomy_repo.working_dir), {A: "broken: ["})
    code = main(["diff", "--taxonomy", taxonomy_repo.working_dir, "--base", base, "--head", head, "--format", "json"])
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert report["changes"] == [{"path": "compositional_skills/new/QnA.yml", "status": "added", "old_path": None}]
    assert sorted(f["rule"] for f in report["findings"]) == ["attribution-missing", "file-name", "schema/minItems"]


def test_config_comes_from_the_base_so_a_change_cannot_silence_its_own_checks(taxonomy_repo, capsys) -> None:
    base = base_tree(taxonomy_repo)
    head = taxonomy_repo.commit_files(
        {
            ".taxbot.yaml": "lint:\n  disable: [attribution-missing]\n",
            "compositional_skills/new/qna.yaml": freeform_skill(),
        }
    )
    assert main(["diff", "--taxonomy", taxonomy_repo.working_dir, "--base", base, "--head", head]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "added     compositional_skills/new/qna.yaml"
    assert "attribution-missing" in out


def test_no_change_is_clean(taxonomy_repo, capsys) -> None:
    base = base_tree(taxonomy_repo)
    assert main(["diff", "--taxonomy", taxonomy_repo.working_dir, "--base", base, "--head", base]) == 0
    assert "no leaves changed" in capsys.readouterr().out


def test_a_leaf_committed_as_a_symlink_is_reported_not_followed(taxonomy_repo, capsys) -> None:
    base = base_tree(taxonomy_repo)
    root = Path(taxonomy_repo.working_dir)
    (root / "compositional_skills" / "sneaky").mkdir(parents=True)
    (root / "compositional_skills" / "sneaky" / "qna.yaml").symlink_to("/etc/passwd")
    taxonomy_repo.index.add(["compositional_skills/sneaky/qna.yaml"])
    head = taxonomy_repo.index.commit("link").hexsha
    code = main(["diff", "--taxonomy", str(root), "--base", base, "--head", head, "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [f["rule"] for f in report["findings"] if f["severity"] == "error"] == ["symlink"]
    assert "root:" not in json.dumps(report)
