"""Knowledge documents chunked in the teacher's tokens, paragraph-aligned, with nothing lost."""

from __future__ import annotations

from bot.generation.documents import chunk_text


def _words(text: str) -> int:
    return len(text.split())


def test_chunks_hold_at_most_the_budget_and_lose_nothing() -> None:
    paragraphs = [" ".join(f"p{p}w{w}" for w in range(30 + 7 * p)) for p in range(8)]
    text = "\n\n".join(paragraphs)
    chunks = chunk_text(text, 80, _words)
    assert all(_words(c) <= 80 for c in chunks)
    assert " ".join(" ".join(c.split()) for c in chunks).split() == text.split()
    assert all(not c.startswith(" ") for c in chunks)


def test_a_paragraph_longer_than_the_budget_is_cut_at_words() -> None:
    text = " ".join(f"w{i}" for i in range(250))
    chunks = chunk_text(text, 100, _words)
    assert [_words(c) for c in chunks] == [100, 100, 50]


def test_the_budget_is_in_the_teachers_tokens_not_words() -> None:
    text = "\n\n".join("x" * 40 for _ in range(10))  # ten one-word paragraphs of 40 characters
    per_char = chunk_text(text, 100, lambda s: len(s) // 4)  # a tokenizer of 4 characters a token
    assert len(per_char) > 1 and len(chunk_text(text, 100, _words)) == 1
