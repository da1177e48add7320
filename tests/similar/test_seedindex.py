"""The seed index: normalised words, one context per leaf, and incremental builds equal to cold ones."""

from __future__ import annotations

import numpy as np

from bot.similar.seedindex import SeedIndex, Thresholds, Tokenizer, build_index, leaf_texts, words
from bot.taxonomy.tree import parse_leaf
from tests.leaves import freeform_skill, grounded_skill, knowledge


def leaf(path: str, text: str):
    return parse_leaf(path, text.encode())


LEAVES = {
    "compositional_skills/arithmetic/qna.yaml": freeform_skill(),
    "compositional_skills/grounded/sales/qna.yaml": grounded_skill(),
    "knowledge/geography/lakes/qna.yaml": knowledge(),
}


def index_of(leaves: dict[str, str]) -> SeedIndex:
    tokenizer = Tokenizer()
    return build_index(
        Thresholds(),
        tokenizer,
        [leaf_texts(leaf(p, t), f"{i:040x}", tokenizer) for i, (p, t) in enumerate(leaves.items())],
    )


def test_words_ignore_case_width_and_spacing_but_keep_numbers_and_operators() -> None:
    assert words("What is  ５+3?") == ["what", "is", "5", "+", "3", "?"]
    assert words("The CAFÉ's menu") == words("the café's   menu")


def hashes(tokenizer: Tokenizer, text: str) -> np.ndarray:
    numbers = tokenizer.numbers(text)
    return tokenizer.word_hashes()[numbers]


def test_word_hashes_are_the_same_in_every_tokenizer() -> None:
    first, second = Tokenizer(), Tokenizer()
    second.numbers("cities of the world")
    assert hashes(first, "a tale of two cities").tolist() == hashes(second, "A Tale of Two Cities").tolist()
    assert first.numbers("of two of").tolist() == [2, 3, 2]


def test_a_context_shared_by_seed_examples_is_kept_once_per_leaf() -> None:
    text = "version: 3\ntask_description: t\ncreated_by: x\nseed_examples:\n" + "".join(
        f"  - context: The one receipt.\n    question: Item {i}?\n    answer: Item {i} costs {i} dollars.\n"
        for i in range(5)
    )
    texts = leaf_texts(leaf("compositional_skills/grounded/r/qna.yaml", text), "", Tokenizer())
    assert len(texts.contexts) == 1
    assert texts.seed_context == [0] * 5
    assert [q.line for q in texts.questions] == [6, 9, 12, 15, 18]


def test_leaves_are_found_by_path_and_each_seed_example_by_its_leaf() -> None:
    index = index_of(LEAVES)
    assert [index.path(i) for i in range(index.leaf_count)] == sorted(LEAVES)
    lakes = index.leaf_of("knowledge/geography/lakes/qna.yaml")
    assert lakes == 2
    assert index.leaf_of("knowledge/nowhere/qna.yaml") is None
    assert (index.seed_leaf == lakes).sum() == 15  # 5 contexts with 3 questions each
    assert (index.context_leaf == lakes).sum() == 5


def test_words_the_index_has_never_seen_get_their_own_ids() -> None:
    index = index_of(LEAVES)
    ids, ranks = index.translate(hashes(Tokenizer(), "plus zebra plus quagga zebra"))
    assert ids[0] == ids[2] < len(index.vocab)
    assert ids[1] == ids[4] >= len(index.vocab) and ids[3] >= len(index.vocab) and ids[1] != ids[3]
    assert ranks[1] < ranks[0]  # unseen words come first: they are the rarest


def _contents(index: SeedIndex) -> list[tuple[object, ...]]:
    """What an index says about each leaf, in words (hashes) rather than in its own token ids."""
    out = []
    for i in range(index.leaf_count):
        seeds = range(int(index.leaf_seeds[i]), int(index.leaf_seeds[i + 1]))
        rows = [
            (int(index.question.lines[s]), index.vocab[index.question.tokens.row(s)].tolist(), index.answer.snippet(s))
            for s in seeds
        ]
        contexts = [
            int(c) - int(index.leaf_contexts[i]) if c >= 0 else -1 for c in index.seed_context[seeds.start : seeds.stop]
        ]
        out.append((index.path(i), rows, contexts, index.blobs[i]))
    return out


def test_an_incremental_build_equals_a_cold_build() -> None:
    before = index_of(LEAVES)
    changed = dict(LEAVES)
    changed["compositional_skills/arithmetic/qna.yaml"] = freeform_skill(7)
    del changed["knowledge/geography/lakes/qna.yaml"]
    changed["compositional_skills/aardvark/qna.yaml"] = grounded_skill(6)
    cold = index_of(changed)

    tokenizer = Tokenizer()
    kept = np.array([before.leaf_of("compositional_skills/grounded/sales/qna.yaml")])
    fresh = [
        leaf_texts(leaf(p, changed[p]), f"{list(changed).index(p):040x}", tokenizer)
        for p in ("compositional_skills/arithmetic/qna.yaml", "compositional_skills/aardvark/qna.yaml")
    ]
    incremental = build_index(Thresholds(), tokenizer, fresh, before, kept)

    assert _contents(incremental) == _contents(cold)
    assert len(incremental.question.postings.keys) == len(cold.question.postings.keys)
