"""The taxonomy model: leaves, their kind, schema version and seed examples, from a folder or a commit."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Protocol

import git

from bot.errors import UsageError
from bot.taxonomy.yamldoc import YamlDoc, YamlDocError, read_yaml

TOP_FOLDERS = ("knowledge", "compositional_skills", "foundational_skills")
LEAF_NAME = "qna.yaml"
ATTRIBUTION_NAME = "attribution.txt"
MAX_LEAF_BYTES = 1_000_000

_LEAF_LIKE = re.compile(r"^qna\.ya?ml$", re.IGNORECASE)


def is_leaf_like(path: str) -> bool:
    """A file that is, or was meant to be, a leaf: qna.yaml, and misnamed ones such as QnA.yml."""
    return bool(_LEAF_LIKE.match(PurePosixPath(path).name))


class LeafKind(StrEnum):
    KNOWLEDGE = "knowledge"
    FREEFORM_SKILL = "freeform_skill"
    GROUNDED_SKILL = "grounded_skill"
    FOUNDATIONAL_SKILL = "foundational_skill"

    @property
    def is_skill(self) -> bool:
        return self is not LeafKind.KNOWLEDGE


@dataclass(frozen=True)
class FileEntry:
    """One file of a tree: its taxonomy-relative path, whether it is a link, and how to read it."""

    path: str
    is_symlink: bool
    size: int
    source: TreeSource

    def read(self) -> bytes:
        return self.source.read(self.path)


class TreeSource(Protocol):
    """Where a taxonomy's files come from: a folder on disk or a git commit."""

    def entries(self) -> Iterator[FileEntry]: ...

    def read(self, path: str) -> bytes: ...

    def entry(self, path: str) -> FileEntry | None: ...


@dataclass(frozen=True)
class DirectorySource:
    """A taxonomy checked out on disk. Symbolic links are reported, never followed."""

    root: Path

    def entries(self) -> Iterator[FileEntry]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if d != ".git")
            for name in sorted(filenames):
                entry = self.entry(os.path.relpath(os.path.join(dirpath, name), self.root))
                if entry is not None:
                    yield entry

    def entry(self, path: str) -> FileEntry | None:
        full = self.root / path
        try:
            stat = full.lstat()
        except OSError:
            return None
        return FileEntry(PurePosixPath(Path(path)).as_posix(), full.is_symlink(), stat.st_size, self)

    def read(self, path: str) -> bytes:
        full = self.root / path
        if full.is_symlink():
            raise OSError(f"{path} is a symbolic link; taxbot does not follow links")
        return full.read_bytes()


@dataclass
class GitSource:
    """A taxonomy at one commit, read from git blobs without a checkout.

    Single files are looked up by path; the whole tree is walked only when `entries()` is asked for,
    so a diff of a few leaves in a tree of 100k costs a few lookups, not a walk.
    """

    repo: git.Repo
    commit: git.Commit
    prefix: str = ""  # the taxonomy's folder inside the repository, "" for the root
    _blobs: dict[str, git.Blob] | None = field(default=None, init=False, repr=False)

    def _tree(self) -> git.Tree:
        return self.commit.tree / self.prefix if self.prefix else self.commit.tree

    def _all_blobs(self) -> dict[str, git.Blob]:
        if self._blobs is None:
            strip = len(self.prefix) + 1 if self.prefix else 0
            self._blobs = {item.path[strip:]: item for item in self._tree().traverse() if isinstance(item, git.Blob)}
        return self._blobs

    def _blob(self, path: str) -> git.Blob | None:
        if self._blobs is not None:
            return self._blobs.get(path)
        try:
            item = self._tree() / path
        except KeyError:
            return None
        return item if isinstance(item, git.Blob) else None

    def entries(self) -> Iterator[FileEntry]:
        for path, blob in sorted(self._all_blobs().items()):
            yield FileEntry(path, blob.mode == blob.link_mode, blob.size, self)

    def entry(self, path: str) -> FileEntry | None:
        blob = self._blob(path)
        if blob is None:
            return None
        return FileEntry(path, blob.mode == blob.link_mode, blob.size, self)

    def read(self, path: str) -> bytes:
        blob = self._blob(path)
        if blob is None:
            raise OSError(f"{path} is not in commit {self.commit.hexsha[:12]}")
        if blob.mode == blob.link_mode:
            raise OSError(f"{path} is a symbolic link; taxbot does not follow links")
        return blob.data_stream.read()


def open_repo(taxonomy_dir: Path) -> tuple[git.Repo, str]:
    """The repository holding `taxonomy_dir`, and the taxonomy's folder inside it ("" for the root)."""
    try:
        repo = git.Repo(taxonomy_dir, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as error:
        raise TaxonomyError(f"{taxonomy_dir} is not inside a git repository") from error
    prefix = Path(taxonomy_dir).resolve().relative_to(Path(repo.working_dir).resolve()).as_posix()
    return repo, "" if prefix == "." else prefix


def resolve_commit(repo: git.Repo, ref: str) -> git.Commit:
    try:
        return repo.commit(ref)
    except (git.BadName, ValueError) as error:
        raise TaxonomyError(f"no commit {ref!r} in {repo.working_dir}") from error


def git_source(taxonomy_dir: Path, ref: str) -> GitSource:
    """The taxonomy under `taxonomy_dir` (a git work tree or a folder inside one) at `ref`."""
    repo, prefix = open_repo(taxonomy_dir)
    return GitSource(repo, resolve_commit(repo, ref), prefix)


class TaxonomyError(UsageError):
    """The taxonomy itself cannot be read (no such folder, no such commit)."""


@dataclass(frozen=True)
class SeedExample:
    """One seed question and answer, with the context it hangs on, and where each starts."""

    question: str
    answer: str
    context: str | None
    question_line: int
    answer_line: int
    context_line: int | None


@dataclass
class Leaf:
    """A parsed qna.yaml leaf. Construct with `parse_leaf`."""

    path: str
    kind: LeafKind
    version: int
    doc: YamlDoc
    seed_examples: list[SeedExample]

    @property
    def data(self) -> dict[object, object]:
        value = self.doc.value
        return value if isinstance(value, dict) else {}

    @property
    def folder(self) -> str:
        return PurePosixPath(self.path).parent.as_posix()

    @property
    def task(self) -> str:
        """What the leaf teaches, in the contributor's words: task description, or domain and outline."""
        data = self.data
        if self.kind is LeafKind.KNOWLEDGE:
            parts = [data.get("domain"), data.get("document_outline")]
            return " - ".join(str(p) for p in parts if isinstance(p, str) and p)
        value = data.get("task_description")
        return value if isinstance(value, str) else ""


def leaf_kind(path: str, data: dict[object, object]) -> LeafKind:
    top = PurePosixPath(path).parts[0] if PurePosixPath(path).parts else ""
    if top == "knowledge":
        return LeafKind.KNOWLEDGE
    if top == "foundational_skills":
        return LeafKind.FOUNDATIONAL_SKILL
    if top != "compositional_skills" and "document" in data:
        return LeafKind.KNOWLEDGE
    seeds = data.get("seed_examples")
    if isinstance(seeds, list) and any(isinstance(s, dict) and s.get("context") for s in seeds):
        return LeafKind.GROUNDED_SKILL
    return LeafKind.FREEFORM_SKILL


def document_version(data: dict[object, object]) -> int:
    """The schema version a document declares, read the way the reference validator reads it."""
    declared = data.get("version", 1)
    if isinstance(declared, int) and not isinstance(declared, bool):
        return declared
    try:
        return int(declared)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 1


def _seed_examples(doc: YamlDoc) -> list[SeedExample]:
    data = doc.value if isinstance(doc.value, dict) else {}
    seeds = data.get("seed_examples")
    if not isinstance(seeds, list):
        return []
    found: list[SeedExample] = []
    for i, seed in enumerate(seeds):
        if not isinstance(seed, dict):
            continue
        base: tuple[str | int, ...] = ("seed_examples", i)
        context = seed.get("context") if isinstance(seed.get("context"), str) else None
        context_line = doc.position((*base, "context"))[0] if context is not None else None
        pairs = seed.get("questions_and_answers")
        if isinstance(pairs, list):
            items = [((*base, "questions_and_answers", j), p) for j, p in enumerate(pairs)]
        else:
            items = [(base, seed)]
        for where, pair in items:
            if not isinstance(pair, dict):
                continue
            question, answer = pair.get("question"), pair.get("answer")
            if isinstance(question, str) and isinstance(answer, str):
                found.append(
                    SeedExample(
                        question=question.strip(),
                        answer=answer.strip(),
                        context=context.strip() if context is not None else None,
                        question_line=doc.position((*where, "question"))[0],
                        answer_line=doc.position((*where, "answer"))[0],
                        context_line=context_line,
                    )
                )
    return found


def leaf_from_doc(path: str, doc: YamlDoc) -> Leaf:
    """A leaf from a document already read; the document's value must be a mapping."""
    data = doc.value if isinstance(doc.value, dict) else {}
    return Leaf(path, leaf_kind(path, data), document_version(data), doc, _seed_examples(doc))


def parse_leaf(path: str, raw: bytes) -> Leaf:
    """Parse a leaf's bytes. Raises YamlDocError when they are not one YAML mapping."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise YamlDocError(f"the file is not UTF-8 text (byte {error.start})") from error
    doc = read_yaml(text)
    if doc is None or not isinstance(doc.value, dict) or not doc.value:
        raise YamlDocError("the file does not hold a YAML mapping of keys to values")
    return leaf_from_doc(path, doc)


@dataclass
class Taxonomy:
    """All leaves of a tree that could be read, and the leaf-like files that could not."""

    leaves: dict[str, Leaf]
    unreadable: dict[str, str]
    files: set[str]


def load_taxonomy(source: TreeSource) -> Taxonomy:
    """Every leaf of a tree. Unreadable leaves are kept aside with the reason; nothing raises."""
    leaves: dict[str, Leaf] = {}
    unreadable: dict[str, str] = {}
    files: set[str] = set()
    for entry in source.entries():
        files.add(entry.path)
        if not is_leaf_like(entry.path):
            continue
        if entry.is_symlink:
            unreadable[entry.path] = "a symbolic link"
            continue
        if entry.size > MAX_LEAF_BYTES:
            unreadable[entry.path] = f"larger than {MAX_LEAF_BYTES:,} bytes"
            continue
        try:
            leaves[entry.path] = parse_leaf(entry.path, entry.read())
        except (YamlDocError, OSError) as error:
            unreadable[entry.path] = str(error)
    return Taxonomy(leaves, unreadable, files)


def load_directory(root: Path) -> Taxonomy:
    if not root.is_dir():
        raise TaxonomyError(f"no taxonomy folder at {root}")
    return load_taxonomy(DirectorySource(root))
