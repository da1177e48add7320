"""The community's content rules beyond the schema: attribution, word budgets, names, traps."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import PurePosixPath

from license_expression import ExpressionError, Licensing, get_spdx_licensing

from bot.taxonomy.findings import RULES, Finding, Severity
from bot.taxonomy.tree import Leaf, LeafKind
from bot.taxonomy.yamldoc import Trap

ALLOWED_LICENCES = ("CC0-1.0", "CDLA-Permissive-2.0", "CC-BY-4.0", "CC-BY-SA-4.0", "Apache-2.0", "MIT")
SKILL_WORD_BUDGET = 2300
KNOWLEDGE_CONTEXT_WORDS = 500
KNOWLEDGE_QNA_WORDS = 250

# Answers that name a proprietary chat model were likely produced by it, which the community's
# contribution terms forbid. Bare words like Bard (Shakespeare), Claude (Monet) or Gemini (the sign) are
# names of other things, so only product forms and the models' own self-descriptions are matched.
_PROPRIETARY_MODELS = re.compile(
    r"\b(?:chat\s?gpt|gpt-?(?:3\.5|4(?:\.1|o)?|5)(?:-turbo)?|google\s+bard|bard\s+ai|anthropic'?s\s+claude|"
    r"claude\s+(?:\d(?:\.\d)?|instant|opus|sonnet|haiku)|gemini\s+(?:pro|ultra|advanced|flash)|microsoft\s+copilot|"
    r"as\s+an\s+ai\s+language\s+model|i\s+am\s+an\s+ai\s+(?:model|assistant)\s+(?:developed|trained|created)\s+by)\b",
    re.IGNORECASE,
)
_FOLDER_NAME = re.compile(r"^[a-z0-9_]+$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_SHORT_COMMIT = re.compile(r"^[0-9a-fA-F]{4,40}$")  # git takes a unique prefix of 4 or more hex digits
_LICENCE_LINE = re.compile(r"^\s*licen[cs]e(?: of the work)?\s*:\s*(?P<licence>.+?)\s*$", re.IGNORECASE | re.MULTILINE)


# How people write licences out in attribution.txt, rewritten word by word into SPDX's short form:
# "Creative Commons Attribution-ShareAlike 4.0 International" and "CC BY-SA 4.0" are both CC-BY-SA-4.0.
_LICENCE_WORDS = (
    (r"\bcommunity\s+data\s+licen[cs]e\s+agreement\b", "cdla"),
    (r"creative\s+commons", "cc"),
    (r"attribution", "by"),
    (r"share[\s-]*alike", "sa"),
    (r"non[\s-]*commercial", "nc"),
    (r"no[\s-]*derivatives?|no[\s-]*derivs", "nd"),
    (r"\bcc[\s-]*(?:0|zero)\b", "cc0"),
    (r"\b(?:international|unported|universal|generic|public\s+domain\s+dedication|the)\b", " "),
    (r"\b(?:licen[cs]e|version)\b|,", " "),
    (r"\bv(?=\d)", ""),
    (r"(?<![.\w])(\d+)(?![.\d])", r"\1.0"),  # "CC BY 4" and "Apache 2" name the x.0 versions
    (r"\bcc0\s*$", "cc0 1.0"),
)


@functools.cache
def _licensing() -> Licensing:
    return get_spdx_licensing()  # builds its symbol table from the shipped SPDX list: tens of ms, so once


@functools.cache
def spdx_licence(given: str) -> str | None:
    """The SPDX id `given` names (`Apache License 2.0`, `cc by-sa 4.0`, `CC-BY-SA-4.0`), or None if none."""
    licensing = _licensing()
    candidates = [given.strip()]
    text = given.strip().lower()
    for pattern, replacement in _LICENCE_WORDS:
        text = re.sub(pattern, replacement, text)
    candidates.append(re.sub(r"[\s_()-]+", "-", text).strip("-"))
    for candidate in candidates:
        try:
            expression = licensing.parse(candidate, validate=True)
        except ExpressionError:
            continue
        symbols = licensing.license_symbols(expression) if expression is not None else []
        if len(symbols) == 1:
            return str(symbols[0].key)
    return None


def _finding(path: str, line: int, col: int, rule: str, message: str) -> Finding:
    return Finding(path, line, col, RULES[rule].severity, rule, message)


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


def check_folders(path: str) -> list[Finding]:
    bad = [part for part in PurePosixPath(path).parent.parts if not _FOLDER_NAME.match(part)]
    if not bad:
        return []
    fixes = ", ".join(f"`{p}` -> `{re.sub(r'[^a-z0-9_]+', '_', p.lower()).strip('_')}`" for p in bad)
    return [_finding(path, 1, 1, "folder-name", f"folder names are lower case with underscores: {fixes}")]


def check_attribution(path: str, version: int, attribution: bytes | None) -> list[Finding]:
    if version < 2:
        return []
    folder = PurePosixPath(path).parent.as_posix()
    if attribution is None or not attribution.strip():
        state = "is missing" if attribution is None else "is empty"
        return [
            _finding(
                path,
                1,
                1,
                "attribution-missing",
                f"{folder}/attribution.txt {state}: add one with the "
                "title, link, revision, licence and creators of the source",
            )
        ]
    text = attribution.decode("utf-8", errors="replace")
    match = _LICENCE_LINE.search(text)
    if match is None:
        return [
            _finding(path, 1, 1, "attribution-licence", f"{folder}/attribution.txt has no `License of the work:` line")
        ]
    given = match.group("licence")
    spdx = spdx_licence(given)
    if spdx in ALLOWED_LICENCES:
        return []
    named = f" (SPDX `{spdx}`)" if spdx and spdx != given.strip() else ""
    return [
        _finding(
            path,
            1,
            1,
            "attribution-licence",
            f"licence `{given}`{named} in {folder}/attribution.txt is not on the allowed list "
            f"({', '.join(ALLOWED_LICENCES)})",
        )
    ]


def check_word_budgets(leaf: Leaf) -> list[Finding]:
    findings: list[Finding] = []
    if leaf.kind is LeafKind.KNOWLEDGE:
        seen_contexts: set[int] = set()
        for seed in leaf.seed_examples:
            if seed.context_line is not None and seed.context_line not in seen_contexts:
                seen_contexts.add(seed.context_line)
                if (n := _words(seed.context)) > KNOWLEDGE_CONTEXT_WORDS:
                    findings.append(
                        _finding(
                            leaf.path,
                            seed.context_line,
                            1,
                            "word-budget",
                            f"context has {n} words; keep each under {KNOWLEDGE_CONTEXT_WORDS}",
                        )
                    )
            if (n := _words(seed.question) + _words(seed.answer)) > KNOWLEDGE_QNA_WORDS:
                findings.append(
                    _finding(
                        leaf.path,
                        seed.question_line,
                        1,
                        "word-budget",
                        f"question and answer have {n} words; keep each pair under {KNOWLEDGE_QNA_WORDS}",
                    )
                )
        return findings
    contexts = {seed.context_line: _words(seed.context) for seed in leaf.seed_examples}
    total = sum(contexts.values()) + sum(_words(s.question) + _words(s.answer) for s in leaf.seed_examples)
    if total > SKILL_WORD_BUDGET:
        findings.append(
            _finding(
                leaf.path,
                leaf.doc.position(("seed_examples",))[0],
                1,
                "word-budget",
                f"seed examples hold {total} words in all; a skill stays under about "
                f"{SKILL_WORD_BUDGET} (shorten contexts or drop examples)",
            )
        )
    return findings


def check_context_placement(leaf: Leaf) -> list[Finding]:
    if not leaf.kind.is_skill or leaf.kind is LeafKind.FOUNDATIONAL_SKILL:
        return []
    parts = PurePosixPath(leaf.path).parts
    with_context = [s for s in leaf.seed_examples if s.context]
    without = [s for s in leaf.seed_examples if not s.context]
    if "freeform" in parts and with_context:
        return [
            _finding(
                leaf.path,
                with_context[0].context_line or 1,
                1,
                "context-placement",
                "a freeform skill takes no `context`; move the leaf under grounded/ or drop the context",
            )
        ]
    if "grounded" in parts and without:
        return [
            _finding(
                leaf.path,
                without[0].question_line,
                1,
                "context-placement",
                "a grounded skill gives every seed example a `context`; this one has none",
            )
        ]
    if with_context and without:
        return [
            _finding(
                leaf.path,
                without[0].question_line,
                1,
                "context-placement",
                f"{len(with_context)} seed examples have a `context` and {len(without)} do not; a skill "
                "is grounded (all have one) or freeform (none has)",
            )
        ]
    return []


def check_document(leaf: Leaf) -> list[Finding]:
    document = leaf.data.get("document")
    if leaf.kind is not LeafKind.KNOWLEDGE or not isinstance(document, dict):
        return []
    findings = []
    commit = document.get("commit")
    if isinstance(commit, str) and not _COMMIT.match(commit.strip()):
        line, col = leaf.doc.position(("document", "commit"))
        if _SHORT_COMMIT.match(commit.strip()):
            # git checks a prefix out, but a later commit can make it ambiguous: pin it, don't reject it.
            severity, message = Severity.WARNING, (
                f"`document.commit` `{commit}` is a short commit hash; pin the full commit (40 lower-case hex "
                f"characters): run `git rev-parse {commit}` in the document repository"
            )
        else:
            severity, message = RULES["document-commit"].severity, (
                f"`document.commit` `{commit}` is not a commit hash; give the full 40-character commit: "
                "run `git rev-parse HEAD` in the document repository"
            )
        findings.append(Finding(leaf.path, line, col, severity, "document-commit", message))
    patterns = document.get("patterns")
    if isinstance(patterns, list):
        for i, pattern in enumerate(patterns):
            if isinstance(pattern, str) and not pattern.strip():
                line, col = leaf.doc.position(("document", "patterns", i))
                findings.append(
                    _finding(
                        leaf.path,
                        line,
                        col,
                        "document-patterns",
                        "a blank pattern matches nothing; name the document files, e.g. `*.md`",
                    )
                )
    return findings


def check_repeated_questions(leaf: Leaf) -> list[Finding]:
    """The same question twice; in a grounded skill, twice over the same context (the same instruction
    over different contexts is how a grounded skill teaches)."""
    first: dict[tuple[str, str], int] = {}
    findings = []
    grounded = leaf.kind.is_skill
    for seed in leaf.seed_examples:
        context = " ".join((seed.context or "").casefold().split()) if grounded else ""
        key = (" ".join(seed.question.casefold().split()), context)
        if key in first:
            findings.append(
                _finding(
                    leaf.path,
                    seed.question_line,
                    1,
                    "repeated-question",
                    f"this question is already asked at line {first[key]}",
                )
            )
        else:
            first[key] = seed.question_line
    return findings


def check_proprietary_models(leaf: Leaf) -> list[Finding]:
    findings = []
    for seed in leaf.seed_examples:
        if match := _PROPRIETARY_MODELS.search(seed.answer):
            findings.append(
                _finding(
                    leaf.path,
                    seed.answer_line,
                    1,
                    "proprietary-model",
                    f"the answer names `{match.group(0)}`; seed answers must not come from proprietary chat models",
                )
            )
    return findings


def check_traps(path: str, traps: list[Trap]) -> list[Finding]:
    messages: dict[str, Callable[[Trap], str]] = {
        "duplicate-key": lambda t: f"{t.detail}: YAML keeps only the last value and silently drops the first",
        "yaml-boolean": lambda t: (
            f"`{t.detail}` is read as the boolean {t.detail.lower() in {'yes', 'on', 'y'}}; "
            f'quote it ("{t.detail}") if you mean the word'
        ),
        "alias": lambda t: "YAML aliases repeat a value invisibly; write the value out",
    }
    return [_finding(path, t.line, t.col, t.kind, messages[t.kind](t)) for t in traps]


def check_text(path: str, raw: bytes, text: str) -> list[Finding]:
    findings = []
    if raw.startswith(b"\xef\xbb\xbf"):
        findings.append(
            _finding(path, 1, 1, "bom", "the file starts with a byte order mark; save it as UTF-8 without BOM")
        )
    if b"\r\n" in raw:
        line = raw[: raw.index(b"\r\n")].count(b"\n") + 1
        findings.append(_finding(path, line, 1, "crlf", "Windows line endings (CRLF); save with Unix line endings"))
    for number, line_text in enumerate(text.splitlines(), start=1):
        if "\t" in line_text:
            findings.append(_finding(path, number, line_text.index("\t") + 1, "tab", "tab character; use spaces"))
    return findings
