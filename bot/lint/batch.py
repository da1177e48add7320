"""Lint many files named on the command line, spread over the machine's cores."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bot.errors import UsageError
from bot.lint.leaf import LintCache, LintSettings, Profile, lint_entry, warm_up
from bot.taxonomy.config import CONFIG_NAME, load_config
from bot.taxonomy.findings import Finding
from bot.taxonomy.tree import TOP_FOLDERS, DirectorySource, is_leaf_like

PARALLEL_FROM = 2000
"""Fewer files than this are linted in-process: measured on 2 cores, a pool lost to one process at 147
and at 800 files (bench/bench_lint.py); workers pay off only on large trees of distinct files."""


class TargetError(UsageError):
    """A path named on the command line cannot be linted as asked."""


@dataclass(frozen=True)
class Target:
    """A file to lint: as the user named it, and where it sits in its taxonomy."""

    display: str
    root: Path
    path: str  # taxonomy-relative, posix


def _taxonomy_root(path: Path) -> tuple[Path, str]:
    """The taxonomy folder holding `path`: the parent of its nearest knowledge/ or *_skills/ ancestor."""
    absolute = path.absolute()
    for ancestor in [absolute, *absolute.parents]:
        if ancestor.name in TOP_FOLDERS:
            return ancestor.parent, absolute.relative_to(ancestor.parent).as_posix()
    if path.is_dir():
        return path, "."
    return absolute.parent, absolute.name


def _below(root: Path, rel: str, found: str, find_root: bool) -> tuple[Path, str]:
    """Root and taxonomy path of a leaf found at `found` under the folder `rel` of `root`. A folder above
    the taxonomy (`taxbot lint fixtures`) holds taxonomies: each leaf's root is the folder above its
    knowledge/ or *_skills/ folder, so its path reads as the taxonomy's own."""
    if rel != ".":
        return root, f"{rel}/{found}"
    parts = PurePosixPath(found).parts
    top = next((i for i, part in enumerate(parts[:-1]) if part in TOP_FOLDERS), 0) if find_root else 0
    return root.joinpath(*parts[:top]), PurePosixPath(*parts[top:]).as_posix()


def collect_targets(paths: Sequence[str], taxonomy: Path | None) -> list[Target]:
    """The leaf files named by `paths` (files, or folders searched for qna.yaml and misnamed kin)."""
    targets: list[Target] = []
    for given in paths:
        path = Path(given)
        if not path.exists() and not path.is_symlink():
            raise TargetError(f"no such file or folder: {given}")
        if taxonomy is not None:
            try:
                root, rel = taxonomy, path.absolute().relative_to(taxonomy.absolute()).as_posix()
            except ValueError:
                raise TargetError(f"{given} is not inside the taxonomy folder {taxonomy}") from None
        else:
            root, rel = _taxonomy_root(path)
        if path.is_dir() and not path.is_symlink():
            for entry in DirectorySource(path).entries():
                if is_leaf_like(entry.path):
                    leaf_root, inner = _below(root, rel, entry.path, taxonomy is None)
                    targets.append(Target(os.path.join(given, entry.path), leaf_root, inner))
        else:
            targets.append(Target(given, root, rel))
    return targets


def _lint_target(target: Target, settings: LintSettings, cache: LintCache) -> list[Finding]:
    source = DirectorySource(target.root)
    entry = source.entry(target.path)
    if entry is None:
        raise TargetError(f"cannot read {target.display}")
    return [f.moved_to(target.display) for f in lint_entry(entry, source, settings, cache)]


_worker_cache: LintCache | None = None


def _start_worker() -> None:
    global _worker_cache
    _worker_cache = LintCache()


def _lint_in_worker(job: tuple[Target, LintSettings]) -> list[Finding]:
    assert _worker_cache is not None, "the pool initializer sets up the cache"
    return _lint_target(*job, _worker_cache)


def lint_targets(targets: list[Target], profile: Profile, jobs: int | None = None) -> list[Finding]:
    """Findings for every target, each taxonomy's `.taxbot.yaml` applied, config problems included."""
    findings: list[Finding] = []
    settings: dict[Path, LintSettings] = {}
    for root in dict.fromkeys(t.root for t in targets):
        config, problems = load_config(root)
        findings += [p.moved_to(str(root / CONFIG_NAME)) for p in problems]
        settings[root] = LintSettings(profile, config.disabled_rules)
    work = [(t, settings[t.root]) for t in targets]
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1 or len(work) < PARALLEL_FROM:
        cache = LintCache()
        for target, target_settings in work:
            findings += _lint_target(target, target_settings, cache)
        return findings
    # fork: workers start with everything imported and the schemas compiled, in milliseconds.
    warm_up()
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker) as pool:
        for result in pool.map(_lint_in_worker, work, chunksize=max(1, len(work) // (jobs * 4))):
            findings += result
    return findings
