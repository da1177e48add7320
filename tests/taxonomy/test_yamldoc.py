"""Reading YAML safely: positions of values, traps the parser hides, hostile documents."""

from __future__ import annotations

import signal

import pytest

from bot.taxonomy.yamldoc import YamlDocError, read_yaml


def test_every_value_has_its_source_line_and_column() -> None:
    doc = read_yaml("version: 3\nseed_examples:\n  - question: Why?\n    answer: |\n      Because.\n")
    assert doc is not None
    assert doc.position(("version",)) == (1, 10)
    assert doc.position(("seed_examples", 0, "question")) == (3, 15)
    assert doc.position(("seed_examples", 0, "answer")) == (4, 13)
    # A path with no value of its own falls back to the nearest ancestor.
    assert doc.position(("seed_examples", 0, "context")) == (3, 5)


def test_duplicate_key_is_reported_with_both_lines() -> None:
    doc = read_yaml("a: 1\nb: 2\na: 3\n")
    assert doc is not None and doc.value == {"a": 3, "b": 2}
    [trap] = doc.traps
    assert (trap.kind, trap.line) == ("duplicate-key", 3)
    assert "first at line 1" in trap.detail


@pytest.mark.parametrize("word", ["yes", "No", "on", "OFF"])
def test_bare_yaml_11_booleans_are_traps_but_quoted_ones_are_not(word: str) -> None:
    doc = read_yaml(f"plain: {word}\nquoted: '{word}'\nreal: true\n")
    assert doc is not None
    assert [(t.kind, t.line, t.detail) for t in doc.traps] == [("yaml-boolean", 1, word)]


def test_alias_bomb_is_refused_before_it_expands() -> None:
    """Ten levels of ten aliases would be 10^10 values: refused, not expanded. The alarm only turns a hang
    (the bomb being expanded) into a failure; it is no speed target."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]

    def hung(signum: int, frame: object) -> None:
        raise TimeoutError("the alias bomb was being expanded")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(120)
    try:
        with pytest.raises(YamlDocError, match="alias bomb"):
            read_yaml("\n".join(lines) + "\n")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(YamlDocError):
        read_yaml("a: &loop\n  - *loop\n")


def test_syntax_error_carries_its_position() -> None:
    with pytest.raises(YamlDocError) as caught:
        read_yaml("a: 1\nb: [unclosed\nc: 2\n")
    assert caught.value.line >= 2


def test_tab_indentation_is_a_clear_error() -> None:
    with pytest.raises(YamlDocError, match="tab") as caught:
        read_yaml("a:\n\t- x\n")
    assert caught.value.line == 2


def test_two_documents_in_one_file_is_an_error() -> None:
    with pytest.raises(YamlDocError, match="more than one YAML document"):
        read_yaml("a: 1\n---\nb: 2\n")


def test_empty_text_has_no_document() -> None:
    assert read_yaml("# only a comment\n") is None
