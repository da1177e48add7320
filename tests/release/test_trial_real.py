"""A trial on a real pretrained model (SmolLM2-135M-Instruct, on CPU): a pull request whose seeds it cannot
answer shows a gain; one whose seeds repeat what it already answers shows none."""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest
import yaml

from bot.cli import main
from tests.fakes.hf_server import FakeHub
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.seed_teacher import SeedTeacher, plain_english

UNKNOWN = {  # invented facts: no pretrained model knows them
    "What colour is the zorblat fruit?": "The zorblat fruit is bright purple.",
    "Who invented the quexi engine?": "Mira Tovan invented the quexi engine.",
    "Where do vantho birds nest?": "Vantho birds nest on the cliffs of Ardel.",
    "How many legs does a krimble have?": "A krimble has seven legs.",
    "What is the capital of Zentoria?": "The capital of Zentoria is Plessa.",
}
KNOWN = ["What is the capital of France?", "How many days are in a week?", "What do bees make?",
         "What is the opposite of hot?", "What colour is grass?"]  # fmt: skip
KEPT = ["What is the largest planet in our solar system?", "How many legs does a spider have?",
        "What is water made of?", "What animal says moo?", "What is the boiling point of water?"]  # fmt: skip
GENERAL = "What is two plus two?"
MAX_NEW_TOKENS = 12
# Each step sees every generated pair once, in one pack: six steps of about 330 tokens in all.
TRAINING = ("[model.precision=float32, run.use_cpu=true, data.max_length=96, data.pack_tokens=384, "
            "phase1.learning_rate=3.0e-3, phase1.effective_batch=5, phase1.warmup_steps=0, "
            "phase1.lr_scheduler=constant, model.lora.r=8, model.lora.alpha=16]")  # fmt: skip


def freeform(pairs: dict[str, str]) -> str:
    seeds = [{"question": q, "answer": a} for q, a in pairs.items()]
    return yaml.safe_dump({"version": 3, "created_by": "tester", "task_description": "Answer the question.",
                           "seed_examples": seeds}, sort_keys=False)  # fmt: skip


def config(model: Path) -> str:
    return (
        f"release:\n  hub_repo: org/taxonomy-model\n  base_model: {model}\n  per_leaf: 5\n"
        f"gate:\n  kept_leaves: 1\n  max_new_tokens: {MAX_NEW_TOKENS}\n  general_set: general.jsonl\n"
        "trial:\n  steps: 6\n  pairs_per_leaf: 5\n  replay: 0\n  min_gain: 0.1\n  max_regression: 0.25\n"
        f"  train_overrides: {TRAINING}\n"
    )


@pytest.mark.real_model
@pytest.mark.slow
def test_a_trial_shows_a_gain_on_unknown_seeds_and_none_on_known_ones(
    smollm2_model: Path, taxonomy_repo: git.Repo, teacher_server: FakeOpenAI, hub_server: FakeHub,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from trainer.answer import LocalAnswerer

    teacher_server.script = SeedTeacher(phrase=plain_english)
    for name, value in {"TAXBOT_TEACHER_URL": teacher_server.base_url, "TAXBOT_TEACHER_MODEL": "fake-teacher",
                        "HF_ENDPOINT": hub_server.url}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    # What the model already answers: its own greedy answers, as the gate will ask for them.
    own = LocalAnswerer(str(smollm2_model), max_new_tokens=MAX_NEW_TOKENS, batch_size=16).answer(
        [*KNOWN, *KEPT, GENERAL]
    )
    known, kept = dict(zip(KNOWN, own[:5], strict=True)), dict(zip(KEPT, own[5:10], strict=True))
    general = json.dumps({"question": GENERAL, "answer": own[10], "topic": "arithmetic"}) + "\n"
    commit = taxonomy_repo.commit_files  # type: ignore[attr-defined]
    base = commit({".taxbot.yaml": config(smollm2_model), "general.jsonl": general,
                   "compositional_skills/general/everyday/qna.yaml": freeform(kept)}, "main")  # fmt: skip
    taxonomy_repo.git.checkout("-b", "unknown")
    unknown_head = commit({"compositional_skills/fiction/zentoria/qna.yaml": freeform(UNKNOWN)}, "Add Zentoria")
    taxonomy_repo.git.checkout("-b", "known", base)
    known_head = commit({"compositional_skills/general/basics/qna.yaml": freeform(known)}, "Add basics")

    results = {}
    for name, head in (("unknown", unknown_head), ("known", known_head)):
        out = tmp_path / f"{name}.json"
        code = main(["trial", "run", "--taxonomy", taxonomy_repo.working_dir, "--base", base, "--head", head,
                     "--pull", "1", "--out", str(out), "--cache", str(tmp_path / "cache")])  # fmt: skip
        results[name] = (code, json.loads(out.read_text(encoding="utf-8")))
    changes = {name: {g["name"]: g["candidate"] - g["previous"] for g in result["gate"]["groups"]}
               for name, (_, result) in results.items()}  # fmt: skip
    print(f"trial changes by question set: {changes}")  # the measured figures, with -s

    # Unknown seeds: the trial model learned them, and the comment's verdict gives that gain. Six steps at a high
    # rate without replay also make a 135M model terser on every question (measured: other leaves -0.52 against
    # its own longer answers), which the regression check reports; the gain on its leaves is what this measures.
    code, unknown = results["unknown"]
    gain = changes["unknown"]["changed"]
    assert gain >= 0.3 and f"{gain:+.2f}" in unknown["verdict"], unknown["verdict"]
    assert (code, unknown["status"]) in ((0, "improved"), (1, "no-gain"))
    # Seeds the model already answers: nothing to gain, and the verdict says so.
    code, known_result = results["known"]
    assert abs(changes["known"]["changed"]) < 0.1
    assert (code, known_result["status"]) == (1, "no-gain") and known_result["verdict"].startswith("no gain")
