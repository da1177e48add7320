"""`lint`: every problem of a leaf file in one pass, under the reference or the strict profile."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePosixPath

from instructlab.schema.taxonomy import DEFAULT_YAMLLINT_CONFIG
from referencing.exceptions import NoSuchResource
from yamllint import linter
from yamllint.config import YamlLintConfig

from bot.lint import rules
from bot.lint.schema import SCHEMA_FOLDERS, check_schema, compiled_validator, known_versions
from bot.taxonomy.diff import ChangeSet
from bot.taxonomy.findings import Finding, Severity
from bot.taxonomy.tree import ATTRIBUTION_NAME, LEAF_NAME, MAX_LEAF_BYTES, FileEntry, TreeSource, leaf_from_doc
from bot.taxonomy.yamldoc import YamlDocError, read_yaml


class Profile(StrEnum):
    REFERENCE = "reference"  # exactly the checks of instructlab-schema's validator
    STRICT = "strict"  # those, plus the community's written rules and the YAML traps


@dataclass(frozen=True)
class LintSettings:
    profile: Profile = Profile.STRICT
    disabled: frozenset[str] = frozenset()

    def wants(self, rule: str) -> bool:
        return self.profile is Profile.STRICT and rule not in self.disabled


@dataclass
class LintCache:
    """Findings of file contents already linted, so copies of one file are read once per run."""

    content: dict[tuple[bytes, tuple[str, ...], LintSettings], tuple[list[Finding], int]] = field(default_factory=dict)


@functools.cache
def _yamllint_config() -> YamlLintConfig:
    return YamlLintConfig(DEFAULT_YAMLLINT_CONFIG)


def warm_up() -> None:
    """Compile every schema and the yamllint config now, so forked workers inherit them ready."""
    _yamllint_config()
    for version in known_versions():
        for name in SCHEMA_FOLDERS:
            try:
                compiled_validator(version, name)
            except NoSuchResource:
                continue


_PLACEHOLDER = "\0"


def _error(path: str, rule: str, message: str, line: int = 1, col: int = 1) -> Finding:
    return Finding(path, line, col, Severity.ERROR, rule, message)


def _path_shape(path: str) -> tuple[str, ...]:
    """The parts of a path that content checks depend on: the top folder, grounded/freeform."""
    parts = PurePosixPath(path).parts
    return (parts[0] if len(parts) > 1 else "", *sorted({"grounded", "freeform"} & set(parts[1:-1])))


def _shape_path(shape: tuple[str, ...]) -> str:
    return "/".join((*shape, LEAF_NAME)) if shape[0] else LEAF_NAME


_YAMLLINT_DISABLE_FILE = re.compile(r"^#\s*yamllint disable-file\s*$")


def _yamllint(path: str, text: str, settings: LintSettings) -> list[Finding]:
    """yamllint's findings for text that is known to parse.

    yamllint's `run` parses the whole text a second time with the pure-Python parser only to look for a
    syntax error, which the caller's own parse has already ruled out; its cosmetic checks are the rest.
    """
    if _YAMLLINT_DISABLE_FILE.match(text.split("\n", 1)[0]):
        return []
    findings = []
    for problem in linter.get_cosmetic_problems(text, _yamllint_config(), None):
        if problem.rule == "key-duplicates" and settings.wants("duplicate-key"):
            continue  # the duplicate-key rule says the same with where the first one was
        severity = Severity.ERROR if problem.level == "error" else Severity.WARNING
        findings.append(Finding(path, problem.line, problem.column, severity, f"yamllint/{problem.rule}", problem.desc))
    return findings


def _lint_content(raw: bytes, shape: tuple[str, ...], settings: LintSettings) -> tuple[list[Finding], int]:
    """Findings that depend on the bytes alone (and the path's shape), reported at a placeholder path.

    Returns them with the schema version the document declares (0 when it could not be read).
    """
    path = _PLACEHOLDER
    strict = settings.profile is Profile.STRICT
    if b"\0" in raw:
        return [_error(path, "binary", "this is a binary file, not YAML text")], 0
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        return [_error(path, "encoding", f"the file is not UTF-8 text (byte {error.start}); save it as UTF-8", line)], 0
    # Python's universal newlines, as the reference reads files; CRLF is its own finding.
    text = decoded.replace("\r\n", "\n").replace("\r", "\n")
    findings = rules.check_text(path, raw, decoded) if strict else []
    findings = [f for f in findings if settings.wants(f.rule)]
    try:
        doc = read_yaml(text)
    except YamlDocError as error:
        return [*findings, _error(path, "yaml-syntax", error.message, error.line, error.col)], 0
    if doc is None or not doc.value:  # the reference's test: any falsy document is an empty file
        severity = Severity.ERROR if strict else Severity.WARNING
        return [
            *findings,
            Finding(
                path,
                1,
                1,
                severity,
                "empty",
                "the file is empty: a leaf needs version, created_by, seed_examples and the keys of its kind",
            ),
        ], 0
    if not isinstance(doc.value, dict):
        return [
            *findings,
            _error(
                path,
                "not-a-mapping",
                "the top level must be a mapping of keys (version, "
                f"created_by, seed_examples, ...), not a {type(doc.value).__name__}",
            ),
        ], 0
    leaf = leaf_from_doc(_shape_path(shape), doc)
    if leaf.version > 1 or strict:
        findings += _yamllint(path, text, settings)
    findings += check_schema(leaf.path, leaf.version, leaf.doc)
    if strict:
        findings += rules.check_traps(path, leaf.doc.traps)
        findings += rules.check_word_budgets(leaf)
        findings += rules.check_context_placement(leaf)
        findings += rules.check_document(leaf)
        findings += rules.check_repeated_questions(leaf)
        findings += rules.check_proprietary_models(leaf)
    findings = [
        f if f.path == path else f.moved_to(path)
        for f in findings
        if settings.profile is Profile.REFERENCE or f.rule not in settings.disabled
    ]
    return findings, leaf.version


def lint_bytes(
    path: str,
    raw: bytes,
    *,
    attribution: bytes | None,
    settings: LintSettings,
    cache: LintCache | None = None,
) -> list[Finding]:
    """All findings for one leaf file's bytes; `path` is taxonomy-relative (knowledge/.../qna.yaml)."""
    findings: list[Finding] = []
    name = PurePosixPath(path).name
    if name != LEAF_NAME:
        findings.append(
            _error(
                path,
                "file-name",
                f"rename `{name}` to `{LEAF_NAME}`: only files named exactly {LEAF_NAME} are read as leaves",
            )
        )
        if settings.profile is Profile.REFERENCE:
            return findings
    if settings.wants("folder-name"):
        findings += rules.check_folders(path)
    if len(raw) > MAX_LEAF_BYTES:
        return [
            *findings,
            _error(path, "too-large", f"the file has {len(raw):,} bytes; a leaf stays under {MAX_LEAF_BYTES:,}"),
        ]
    shape = _path_shape(path)
    key = (raw, shape, settings)
    if cache is not None and key in cache.content:
        content, version = cache.content[key]
    else:
        content, version = _lint_content(raw, shape, settings)
        if cache is not None:
            cache.content[key] = (content, version)
    findings += [f.moved_to(path) for f in content]
    if settings.wants("attribution-missing") or settings.wants("attribution-licence"):
        # An unreadable leaf (version 0) is checked as a new one would be: version 2 or later.
        findings += [f for f in rules.check_attribution(path, version or 3, attribution) if settings.wants(f.rule)]
    return findings


def lint_entry(
    entry: FileEntry, source: TreeSource, settings: LintSettings, cache: LintCache | None = None
) -> list[Finding]:
    """Lint one file of a tree, its attribution.txt read from the same folder of the same tree."""
    if entry.is_symlink:
        return [
            _error(
                entry.path,
                "symlink",
                "qna.yaml is a symbolic link; a leaf must be a regular file (taxbot does not follow links)",
            )
        ]
    if entry.size > MAX_LEAF_BYTES:
        return [
            _error(entry.path, "too-large", f"the file has {entry.size:,} bytes; a leaf stays under {MAX_LEAF_BYTES:,}")
        ]
    try:
        raw = entry.read()
    except OSError as error:
        return [_error(entry.path, "unreadable", f"cannot read the file: {error}")]
    folder = PurePosixPath(entry.path).parent
    attribution_entry = source.entry((folder / ATTRIBUTION_NAME).as_posix())
    attribution = None
    if attribution_entry is not None and not attribution_entry.is_symlink:
        try:
            attribution = attribution_entry.read()
        except OSError:
            attribution = None
    return lint_bytes(entry.path, raw, attribution=attribution, settings=settings, cache=cache)


def lint_changes(change_set: ChangeSet, settings: LintSettings) -> list[Finding]:
    """Findings of every leaf present after a change, read from the head."""
    cache = LintCache()
    findings: list[Finding] = []
    for change in change_set.present:
        entry = change_set.head.entry(change.path)
        if entry is not None:
            findings += lint_entry(entry, change_set.head, settings, cache)
    return findings
