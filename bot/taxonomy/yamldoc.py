"""Read one YAML document into plain values with the source position of every value, safely."""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# libyaml is ~40x faster than the pure-Python parser and gives the same marks, but it accepts tabs
# that the pure-Python parser (the one the reference validator uses) rejects: text with a tab goes there.
_FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# YAML 1.1 reads these plain scalars as booleans; a contributor writing `answer: yes` means the word.
_SURPRISE_BOOLEANS = frozenset(
    {"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off", "YES", "NO", "ON", "OFF", "Y", "N"}
)

MAX_EXPANDED_NODES = 200_000
"""More values than this after alias expansion is an alias bomb, not a taxonomy leaf."""

Path_ = tuple[str | int, ...]


class YamlDocError(Exception):
    """The text is not one readable YAML document; carries the 1-based position of the problem."""

    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


@dataclass(frozen=True)
class Trap:
    """Something the YAML parser accepts silently but the author almost surely did not mean."""

    kind: str  # "duplicate-key" | "yaml-boolean" | "alias"
    line: int
    col: int
    detail: str


@dataclass
class YamlDoc:
    """A parsed document: its value, where each value starts, and the traps met on the way."""

    value: object
    positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    traps: list[Trap] = field(default_factory=list)

    def position(self, path: Path_) -> tuple[int, int]:
        """Line and column of the value at `path`, or of its nearest ancestor that has one."""
        while path not in self.positions and path:
            path = path[:-1]
        return self.positions.get(path, (1, 1))

    def key_position(self, path: Path_) -> tuple[int, int]:
        """Line and column of the key naming the value at `path` (its value may start on the next line)."""
        return self.key_positions.get(path) or self.position(path)


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Builder:
    """Turns a composed node graph into values, recording positions and traps."""

    def __init__(self) -> None:
        self.constructor = SafeConstructor()
        self.doc = YamlDoc(value=None)
        self.expanded = 0
        self.seen: set[int] = set()

    def build(self, node: Node, path: Path_) -> object:
        self.expanded += 1
        if self.expanded > MAX_EXPANDED_NODES:
            line, col = _mark(node)
            raise YamlDocError(
                f"the document expands to more than {MAX_EXPANDED_NODES:,} values through aliases "
                "(an alias bomb); write the values out instead of repeating anchors",
                line,
                col,
            )
        if id(node) in self.seen:
            line, col = _mark(node)
            self.doc.traps.append(Trap("alias", line, col, "a value repeated through a YAML alias"))
        self.seen.add(id(node))
        self.doc.positions.setdefault(path, _mark(node))
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        assert isinstance(node, ScalarNode)
        value = self.constructor.construct_object(node, deep=True)
        if isinstance(value, bool) and not node.style and node.value in _SURPRISE_BOOLEANS:
            line, col = _mark(node)
            self.doc.traps.append(Trap("yaml-boolean", line, col, node.value))
        return value

    def _mapping(self, node: MappingNode, path: Path_) -> dict[object, object]:
        result: dict[object, object] = {}
        first_line: dict[object, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = self.build(value_node, path)
                for source in merged if isinstance(merged, list) else [merged]:
                    if isinstance(source, dict):
                        for key, value in source.items():
                            result.setdefault(key, value)
                continue
            key = self.constructor.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                line, col = _mark(key_node)
                raise YamlDocError("a mapping key must be a plain value, not a list or mapping", line, col) from None
            line, col = _mark(key_node)
            if key in result:
                detail = f"`{key!s}` is given twice (first at line {first_line[key]})"
                self.doc.traps.append(Trap("duplicate-key", line, col, detail))
            first_line.setdefault(key, line)
            child = (*path, key if isinstance(key, str | int) else str(key))
            self.doc.positions[child] = _mark(value_node)
            self.doc.key_positions[child] = (line, col)
            result[key] = self.build(value_node, child)
        return result


def read_yaml(text: str) -> YamlDoc | None:
    """Parse `text` as a single YAML document; None when it holds no document at all.

    Raises YamlDocError with the position of the first syntax problem. The parser stops there,
    so later problems in the same file show up once this one is fixed.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader if "\t" in text else _FAST_LOADER)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        if error.problem and "end of stream" in error.problem and error.context_mark:
            mark = error.context_mark  # an unclosed quote or bracket: where it opened, not the end of the file
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlDocError(_describe(error, _char_at(text, line, col)), line, col) from error
    except yaml.YAMLError as error:
        raise YamlDocError(str(error)) from error
    if node is None:
        return None
    builder = _Builder()
    try:
        builder.doc.value = builder.build(node, ())
    except ConstructorError as error:
        mark = error.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlDocError(_describe(error, _char_at(text, line, col)), line, col) from error
    except RecursionError as error:
        raise YamlDocError("the document nests too deeply to read") from error
    return builder.doc


def _char_at(text: str, line: int, col: int) -> str:
    lines = text.splitlines()
    return lines[line - 1][col - 1 : col] if 0 < line <= len(lines) else ""


# PyYAML's parser messages, said in a contributor's words with the fix; matched on (context, problem).
_PLAIN_WORDS: tuple[tuple[str, str, str], ...] = (
    ("expected a single document", "", "the file holds more than one YAML document (a second `---`); a leaf is one "
     "document: remove the second `---` and what is not part of the leaf"),
    ("", "found character '\\t'", "a tab character here is not valid YAML (tabs cannot indent or end a plain value); "
     "use spaces"),
    ("", "mapping values are not allowed", "a `: ` (colon and space) inside a value reads as a new key; put the whole "
     "value in quotes, or write it as a block (`|` and the text indented on the next lines)"),
    ("simple key", "could not find expected ':'", "this line is neither `key: value` nor the continuation of the value "
     "above: add the missing `:` after the key, or indent the line further to continue the value above"),
    ("next token", "cannot start any token", "a value cannot start with `{char}`; put the value in quotes"),
    ("block mapping", "expected key", "this line does not line up with the keys above it: indent it exactly like its "
     "sibling keys; if a quoted value ends early (an apostrophe inside single quotes), use double quotes "
     "or write `''` for the apostrophe"),
    ("block collection", "expected '-' indicator", "this line does not line up with the list items above it: start "
     "each item with `-` at the same indentation"),
    ("", "undefined alias", "a value starting with `*` reads as a YAML alias; put the value in quotes"),
    ("anchor", "", "a value starting with `&` reads as a YAML anchor; put the value in quotes"),
    ("alias", "", "a value starting with `*` reads as a YAML alias; put the value in quotes"),
    ("quoted scalar", "end of stream", "this quoted value is never closed; add the closing quote"),
    ("quoted scalar", "unknown escape", "inside double quotes a backslash starts an escape such as `\\n`; write "
     "`\\\\` for a backslash, or use single quotes"),
    ("block scalar", "", "after `|` or `>` only `-`, `+` or an indentation digit may follow; start the text on the "
     "next line, indented"),
    ("flow sequence", "", "a list in `[...]` is not closed or its items are not separated by commas; add the "
     "missing `,` or `]`, or quote a value that starts with `[`"),
    ("flow mapping", "", "a mapping in `{{...}}` is not closed; add the missing `}}`, or quote a value that starts "
     "with `{{`"),
    ("", "could not determine a constructor for the tag", "a value starting with `!` reads as a YAML tag; put the "
     "value in quotes"),
)


def _describe(error: yaml.MarkedYAMLError, char: str = "") -> str:
    """PyYAML's complaint in plain words, with what to do; its own text is kept only when it is not known."""
    context, problem = error.context or "", error.problem or ""
    for in_context, in_problem, message in _PLAIN_WORDS:
        if in_context in context and in_problem in problem:
            return message.format(char=char)
    parts = [p for p in (context, problem) if p]
    return f"YAML syntax error: {'; '.join(parts) or 'not valid YAML'}"
