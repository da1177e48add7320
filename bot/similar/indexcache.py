"""The seed index of a base commit, cached on disk by commit and rebuilt from the last one by leaf blob."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import git
import numpy as np

from bot.similar.prefilter import SHARED
from bot.similar.seedindex import SeedIndex, Thresholds, Tokenizer, build_index, leaf_texts
from bot.taxonomy.tree import MAX_LEAF_BYTES, is_leaf_like, parse_leaf
from bot.taxonomy.yamldoc import YamlDocError

INDEX_FORMAT = 2
KEEP_INDEXES = 3
"""Indexes kept in a cache folder, most recently used first; a review needs one, a rebuild the one before."""
_BLOBS_PER_CALL = 2000
_LINK_MODE = "120000"


class IndexCacheError(Exception):
    """The cache folder cannot be used; the message says which folder and why."""


@dataclass(frozen=True)
class TreeLeaf:
    path: str  # taxonomy-relative
    blob: str  # hex sha


@dataclass(frozen=True)
class IndexStats:
    """How the index of a commit came to be: loaded as it was, or built with some leaves taken over."""

    commit: str
    loaded: bool
    leaves: int
    parsed: int
    reused: int
    unreadable: int
    seconds: float


def list_leaves(repo: git.Repo, commit: str, prefix: str = "") -> list[TreeLeaf]:
    """The leaves of the taxonomy at `commit` (one `git ls-tree`): links and files over the size limit left out."""
    output = repo.git.ls_tree("-r", "-z", "-l", commit, "--", prefix or ".")
    strip = len(prefix) + 1 if prefix else 0
    leaves = []
    for entry in output.split("\0"):
        if not entry:
            continue
        meta, path = entry.split("\t", 1)
        mode, kind, sha, size = meta.split()
        if kind == "blob" and mode != _LINK_MODE and is_leaf_like(path) and int(size) <= MAX_LEAF_BYTES:
            leaves.append(TreeLeaf(path[strip:], sha))
    return sorted(leaves, key=lambda leaf: leaf.path)


def read_blobs(repo: git.Repo, shas: Sequence[str]) -> Iterator[bytes]:
    """The contents of the blobs, in order, through `git cat-file --batch` a few thousand at a time."""
    for start in range(0, len(shas), _BLOBS_PER_CALL):
        batch = shas[start : start + _BLOBS_PER_CALL]
        out = subprocess.run(
            ["git", "--git-dir", repo.git_dir, "cat-file", "--batch"],
            input="".join(f"{sha}\n" for sha in batch).encode(),
            capture_output=True,
            check=True,
        ).stdout
        at = 0
        for _ in batch:
            header_end = out.index(b"\n", at)
            size = int(out[at:header_end].split()[2])
            yield out[header_end + 1 : header_end + 1 + size]
            at = header_end + 1 + size + 1


def default_cache_dir(repo: git.Repo) -> Path:
    """Inside the repository's git folder (shared by its worktrees), never the home folder."""
    return Path(repo.common_dir) / "taxbot-cache"


def _key(commit: str, prefix: str, thresholds: Thresholds) -> str:
    settings = json.dumps([INDEX_FORMAT, SHARED, prefix, asdict(thresholds)], sort_keys=True)
    return f"{commit}-{hashlib.sha256(settings.encode()).hexdigest()[:12]}"


@dataclass(frozen=True)
class _Meta:
    prefix: str
    thresholds: Thresholds
    unreadable: int


def _meta(folder: Path) -> _Meta | None:
    """What `save_index` wrote beside the arrays; None for a folder that is no index of this format."""
    try:
        record = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if record["format"] != INDEX_FORMAT:
            return None
        return _Meta(str(record["prefix"]), Thresholds(**record["thresholds"]), int(record["unreadable"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def load_index(folder: Path) -> SeedIndex:
    """An index saved by `save_index`, its arrays mapped from disk rather than read."""
    meta = _meta(folder)
    if meta is None:
        raise IndexCacheError(f"{folder} holds no index taxbot can read; delete the folder to rebuild it")
    arrays = {path.stem: np.load(path, mmap_mode="r") for path in folder.glob("*.npy")}
    return SeedIndex.from_arrays(meta.thresholds, arrays)


def save_index(index: SeedIndex, folder: Path, prefix: str, unreadable: int) -> None:
    """Write the index where `load_index` finds it; concurrent writers leave one whole index, never a mix."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
    for name, array in index.arrays().items():
        np.save(staging / f"{name}.npy", np.ascontiguousarray(array))
    record = {
        "format": INDEX_FORMAT,
        "prefix": prefix,
        "thresholds": asdict(index.thresholds),
        "unreadable": unreadable,
    }
    (staging / "meta.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    try:
        staging.rename(folder)
    except OSError:  # another process saved the same index first; theirs is as good
        shutil.rmtree(staging, ignore_errors=True)


def _previous(root: Path, prefix: str) -> Path | None:
    """The most recently used index of the same taxonomy folder, to take unchanged leaves from."""
    best: tuple[float, Path] | None = None
    for folder in root.iterdir() if root.is_dir() else ():
        meta = _meta(folder)
        if meta is not None and meta.prefix == prefix:
            used = (folder / "meta.json").stat().st_mtime
            if best is None or used > best[0]:
                best = (used, folder)
    return best[1] if best else None


def _prune(root: Path, keep: Path) -> None:
    folders = sorted(
        (f for f in root.iterdir() if (f / "meta.json").is_file()), key=lambda f: (f / "meta.json").stat().st_mtime
    )
    for folder in folders[:-KEEP_INDEXES]:
        if folder != keep:
            shutil.rmtree(folder, ignore_errors=True)


def commit_index(
    repo: git.Repo, commit: str, prefix: str, thresholds: Thresholds, cache_dir: Path
) -> tuple[SeedIndex, IndexStats]:
    """The index of the taxonomy at `commit`: from the cache, or built (from the previous index where it can)."""
    started = time.perf_counter()
    root = cache_dir / "similar"
    folder = root / _key(commit, prefix, thresholds)
    try:
        if (meta := _meta(folder)) is not None:
            os.utime(folder / "meta.json")
            index = load_index(folder)
            seconds = time.perf_counter() - started
            return index, IndexStats(commit, True, index.leaf_count, 0, 0, meta.unreadable, seconds)
        leaves = list_leaves(repo, commit, prefix)
        previous_folder = _previous(root, prefix)
        previous = load_index(previous_folder) if previous_folder is not None else None
    except OSError as error:
        raise IndexCacheError(f"cannot use the index cache {cache_dir}: {error}") from error

    kept: dict[tuple[str, str], int] = {}
    if previous is not None:
        blobs = previous.blobs.tolist()
        kept = {(previous.path(i), blobs[i].decode()): i for i in range(previous.leaf_count)}
    reuse = [kept[(leaf.path, leaf.blob)] for leaf in leaves if (leaf.path, leaf.blob) in kept]
    to_parse = [leaf for leaf in leaves if (leaf.path, leaf.blob) not in kept]
    tokenizer = Tokenizer()
    fresh, unreadable = [], 0
    for leaf, raw in zip(to_parse, read_blobs(repo, [leaf.blob for leaf in to_parse]), strict=True):
        try:
            fresh.append(leaf_texts(parse_leaf(leaf.path, raw), leaf.blob, tokenizer))
        except YamlDocError:  # `taxbot lint` reports it; an unreadable leaf has nothing to match
            unreadable += 1
    index = build_index(thresholds, tokenizer, fresh, previous, np.array(reuse, dtype=np.int64))
    seconds = time.perf_counter() - started
    stats = IndexStats(commit, False, index.leaf_count, len(fresh), len(reuse), unreadable, seconds)
    try:
        save_index(index, folder, prefix, unreadable)
        _prune(root, folder)
    except OSError as error:
        raise IndexCacheError(f"cannot write the index cache {cache_dir}: {error}") from error
    return load_index(folder), stats
