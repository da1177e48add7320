"""The texts of a leaf a triager reads, each with where it starts and where it came from."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

from bot.taxonomy.tree import ATTRIBUTION_NAME, Leaf


class Origin(StrEnum):
    """Who wrote a text: the contributor (question, answer) or a source they quote (context, attribution)."""

    QUESTION = "question"
    ANSWER = "answer"
    CONTEXT = "context"  # pasted from a document: a knowledge source, a receipt, a filing
    ATTRIBUTION = "attribution"


SOURCE_ORIGINS = (Origin.CONTEXT, Origin.ATTRIBUTION)


@dataclass(frozen=True)
class Text:
    path: str
    line: int  # where the text's first line is
    origin: Origin
    text: str
    seed: int | None = None  # the seed example's index, for the checks that compare seeds

    def line_of(self, offset: int) -> int:
        """The file line of the character at `offset` (block scalars start on the line after their key)."""
        if "\n" not in self.text:
            return self.line
        block = 0 if self.origin is Origin.ATTRIBUTION else 1
        return self.line + block + self.text.count("\n", 0, offset)


def leaf_texts(leaf: Leaf, attribution: str | None = None) -> list[Text]:
    """Questions, answers and contexts (each context once), then the leaf's attribution.txt when given."""
    texts: list[Text] = []
    contexts: set[str] = set()
    for i, seed in enumerate(leaf.seed_examples):
        if seed.context and seed.context_line is not None and seed.context not in contexts:
            contexts.add(seed.context)
            texts.append(Text(leaf.path, seed.context_line, Origin.CONTEXT, seed.context, i))
        texts.append(Text(leaf.path, seed.question_line, Origin.QUESTION, seed.question, i))
        texts.append(Text(leaf.path, seed.answer_line, Origin.ANSWER, seed.answer, i))
    if attribution:
        path = (PurePosixPath(leaf.path).parent / ATTRIBUTION_NAME).as_posix()
        texts.append(Text(path, 1, Origin.ATTRIBUTION, attribution))
    return texts
