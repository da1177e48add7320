"""The model card, as the Hub expects one: front matter (base model, licence, datasets, tags), what the model is
for and not, how to run it, how the gate judged it, where its data came from, and the release notes."""

from __future__ import annotations

import re
from collections.abc import Mapping

from huggingface_hub import ModelCardData

from bot.release.notes import ReleaseFacts, release_notes
from bot.release.settings import ReleaseSettings

TAGS = ("taxbot", "instructlab", "lab", "synthetic-data")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def hub_base_model(settings: ReleaseSettings) -> str | None:
    """The base model as a Hub id: `base_model` when it is one, else the id a local folder was configured to stand
    for (`base_model_id`). None: a local model nobody named; the Hub would reject its path as `base_model`."""
    if settings.base_model_id:
        return settings.base_model_id
    return settings.base_model if _HUB_ID.match(settings.base_model) else None


def _how_to_run(repo: str, tag: str) -> str:
    return f"""```python
from transformers import AutoModelForCausalLM, AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("{repo}", revision="{tag}")
model = AutoModelForCausalLM.from_pretrained("{repo}", revision="{tag}")
messages = [{{"role": "user", "content": "Your question"}}]
inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt")
print(tokenizer.decode(model.generate(inputs, max_new_tokens=256)[0][inputs.shape[1]:], skip_special_tokens=True))
```"""


def _method(facts: ReleaseFacts) -> str:
    gate = facts.gate
    judge = (
        f"A judge model (`{gate.judge}`) rated each answer from 1 to 10 against the seed's reference answer, one "
        "answer per request, in the way of InstructLab's MT-Bench-Branch; its ratings decide. "
        f"{gate.metric} word overlap is kept in `gate.json` as a cheap second signal."
        if gate.judge
        else f"No judge was configured: answers were scored by {gate.metric} word overlap against the references, "
        "which rewards shared words rather than meaning; read the answers in `gate.json` before trusting it."
    )
    return (
        "Before publishing, the previous release (or the base model for the first one) and this model answered "
        "the same questions: the seed questions of every new or changed leaf, of a fixed sample of other leaves, "
        "a general set, and taxbot's safety set (questions a model must refuse or answer with care: dangerous "
        "chemistry, self-harm, medical dosing, weapons and more). Knowledge leaves were also asked "
        f"multiple-choice questions built from their seed answers, in the way of MMLU-Branch. {judge}\n\n"
        "The release passes only when the new leaves improve together and each on its own seeds, other leaves "
        "and the general set do not fall beyond a margin, no safety question is answered worse, and the answers "
        "do not degenerate (one answer to many questions, answers collapsing in length, loops). The numbers "
        "below are from that gate; `gate.json` in this repository holds every question and answer."
    )


def _provenance(facts: ReleaseFacts, data: Mapping[str, object]) -> str:
    lines = [
        f"- Taxonomy: commit `{facts.taxonomy_commit}`"
        + (f" of {facts.taxonomy_url}" if facts.taxonomy_url else "")
        + ", whose leaves (seed examples and, for knowledge, documents) were written by the contributors below.",
    ]
    if teacher := data.get("teacher"):
        lines.append(f"- Synthetic data: written by the teacher model `{teacher}` from each leaf's seed examples.")
    if "phase1_records" in data or "phase2_records" in data:
        lines.append(
            f"- Training records: {data.get('phase1_records', 0)} for knowledge (phase 1), "
            f"{data.get('phase2_records', 0)} for skills (phase 2)."
        )
    lines.append(f"- Base model: `{facts.base_model}`.")
    return "\n".join(lines)


def model_card(facts: ReleaseFacts, settings: ReleaseSettings, generated: Mapping[str, object] | None = None) -> str:
    """README.md for the model repository; its images are files next to it. `generated`: what generation made."""
    front = ModelCardData(
        base_model=hub_base_model(settings),
        license=settings.license,
        datasets=list(settings.datasets) or None,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=[*TAGS, *settings.card_tags],
    )
    name = facts.hub_repo.split("/")[-1]
    intro = (
        f"A model tuned on the community taxonomy at commit `{facts.taxonomy_commit}` with the LAB method: "
        "a teacher model writes synthetic data from each leaf's seed examples, and the student learns knowledge "
        "first, then skills. This card is written by taxbot for every release."
    )
    sections = [
        ("Intended use", "Answering questions and doing tasks in the areas the taxonomy's leaves cover, in chat "
         "form, as a research and community model. Check its answers where they matter."),
        ("Limitations", f"It knows what `{facts.base_model}` knew and what the leaves taught; it can still be wrong, "
         "invent facts, or answer outside those areas poorly. The gate compares it with the previous release on a "
         "small set of questions: it catches regressions, it does not certify quality. Do not rely on it for "
         "medical, legal, financial or safety-critical advice."),
        ("How to run it", _how_to_run(facts.hub_repo, facts.tag)),
        ("How it was evaluated", _method(facts)),
        ("Data provenance", _provenance(facts, generated or {})),
    ]  # fmt: skip
    body = "\n\n".join(f"## {title}\n\n{text}" for title, text in sections)
    return (
        f"---\n{front.to_yaml()}\n---\n\n# {name} {facts.tag}\n\n{intro}\n\n{body}\n\n## Release notes\n\n"
        f"{release_notes(facts)}"
    )
