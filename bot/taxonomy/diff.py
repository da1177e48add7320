"""`diff`: the leaves a change adds, modifies, renames or deletes between two commits or a work tree."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from bot.taxonomy.tree import (
    ATTRIBUTION_NAME,
    DirectorySource,
    GitSource,
    TreeSource,
    is_leaf_like,
    open_repo,
    resolve_commit,
)


class ChangeStatus(StrEnum):
    ADDED = "added"
    MODIFIED = "modified"
    RENAMED = "renamed"
    DELETED = "deleted"


@dataclass(frozen=True, order=True)
class LeafChange:
    """One changed leaf; `path` is where it is after the change (before it, for a deletion)."""

    path: str
    status: ChangeStatus
    old_path: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "status": str(self.status), "old_path": self.old_path}


@dataclass
class ChangeSet:
    """The changed leaves, and the trees before and after the change to read them from."""

    changes: list[LeafChange]
    base: GitSource
    head: TreeSource

    @property
    def present(self) -> list[LeafChange]:
        """Changes whose leaf exists after the change: the ones to lint and review."""
        return [c for c in self.changes if c.status is not ChangeStatus.DELETED]

    @property
    def touched(self) -> set[str]:
        """Every path the change touches, old names of renamed leaves included: compared with the change,
        never with their own earlier text."""
        return {c.path for c in self.changes} | {c.old_path for c in self.changes if c.old_path}


_STATUS = {"A": ChangeStatus.ADDED, "D": ChangeStatus.DELETED, "R": ChangeStatus.RENAMED}


def _inside(path: str | None, prefix: str) -> str | None:
    """`path` relative to the taxonomy folder, or None when it lies outside it."""
    if path is None:
        return None
    if not prefix:
        return path
    return path[len(prefix) + 1 :] if path.startswith(prefix + "/") else None


def changed_leaves(taxonomy_dir: Path, base: str, head: str | None = None) -> ChangeSet:
    """Leaves changed from `base` to `head`, or to the work tree (untracked files too) without a head."""
    repo, prefix = open_repo(taxonomy_dir)
    base_commit = resolve_commit(repo, base)
    base_source = GitSource(repo, base_commit, prefix)
    head_source: TreeSource
    if head is None:
        diffs = base_commit.diff(None, M=True)
        untracked = list(repo.untracked_files)
        head_source = DirectorySource(Path(taxonomy_dir))
    else:
        head_commit = resolve_commit(repo, head)
        diffs = base_commit.diff(head_commit, M=True)
        untracked = []
        head_source = GitSource(repo, head_commit, prefix)

    changes: dict[str, LeafChange] = {}
    touched_folders: set[str] = set()
    for d in diffs:
        old, new = _inside(d.a_path, prefix), _inside(d.b_path, prefix)
        status = _STATUS.get(d.change_type, ChangeStatus.MODIFIED)
        if status is ChangeStatus.RENAMED and old is not None and new is not None and is_leaf_like(new):
            changes[new] = LeafChange(new, status, old)
            continue
        if status is ChangeStatus.RENAMED:  # renamed into or out of the taxonomy, or from a non-leaf name
            if old is not None and is_leaf_like(old):
                changes[old] = LeafChange(old, ChangeStatus.DELETED)
            status, old = ChangeStatus.ADDED, None
        path = new if status is not ChangeStatus.DELETED else old
        if path is None:
            continue
        if is_leaf_like(path):
            changes[path] = LeafChange(path, status)
        elif PurePosixPath(path).name == ATTRIBUTION_NAME:
            touched_folders.add(PurePosixPath(path).parent.as_posix())
    for path in untracked:
        inside = _inside(path, prefix)
        if inside is None:
            continue
        if is_leaf_like(inside):
            changes[inside] = LeafChange(inside, ChangeStatus.ADDED)
        elif PurePosixPath(inside).name == ATTRIBUTION_NAME:
            touched_folders.add(PurePosixPath(inside).parent.as_posix())
    # A changed attribution.txt changes its leaf's review even when qna.yaml itself is untouched.
    for folder in touched_folders:
        leaf = f"{folder}/qna.yaml" if folder != "." else "qna.yaml"
        if leaf not in changes and head_source.entry(leaf) is not None:
            changes[leaf] = LeafChange(leaf, ChangeStatus.MODIFIED)
    return ChangeSet(sorted(changes.values()), base_source, head_source)
