"""`taxbot trial` on CPU. With the tiny model: a head trained once, one comment kept up to date, labels moved,
stale after a push, a time limit. With a real pretrained model (SmolLM2-135M-Instruct): a pull request whose
seeds it cannot answer shows a gain, one whose seeds repeat what it already answers shows none."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import git
import pytest
import yaml
from huggingface_hub import HfApi

from bot.cli import main
from bot.release import hub
from bot.release.trial import SHIPPED_TRIAL_CONFIG, read_trial_settings
from bot.release.trial_comment import MARKER, STALE_TITLE
from tests.fakes.github_server import FakeGitHub
from tests.fakes.hf_server import FakeHub
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.phase_sets import WORDS
from tests.fakes.seed_teacher import SeedTeacher, plain_english
from tests.fakes.tiny_model import build_tiny_model
from tests.release.test_pipeline import CHANT, LAKE, skill

REPO, MODEL = "org/taxonomy", "org/taxonomy-model"
SONG = "compositional_skills/writing/song/qna.yaml"
VERSE = "compositional_skills/writing/verse/qna.yaml"
BETTER, SAME = "model-better", "model-same"
TINY_TRAINING = ("[model.precision=float32, run.use_cpu=true, data.max_length=256, data.pack_tokens=512, "
                 "phase1.learning_rate=3.0e-3, phase1.effective_batch=8, phase1.warmup_steps=0]")  # fmt: skip


def config(base_model: Path) -> str:
    return (
        f"release:\n  hub_repo: {MODEL}\n  base_model: {base_model}\n  per_leaf: 8\n"
        "gate:\n  kept_leaves: 1\n  max_new_tokens: 6\n  general_set: general.jsonl\n"
        f"trial:\n  steps: 4\n  pairs_per_leaf: 8\n  replay: 4\n  label_improved: {BETTER}\n"
        f"  label_no_gain: {SAME}\n  train_overrides: {TINY_TRAINING}\n"
        "teacher:\n  backoff_s: 0.01\n  retries: 1\n"
    )


@pytest.fixture(scope="module")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("base") / "tiny")


@dataclass
class World:
    taxonomy: git.Repo
    teacher: FakeOpenAI
    hub: FakeHub
    github: FakeGitHub
    tmp: Path

    @property
    def root(self) -> Path:
        return Path(self.taxonomy.working_dir)

    def run(self, base: str, head: str, out: Path) -> int:
        return main(["trial", "run", "--taxonomy", str(self.root), "--base", base, "--head", head, "--pull", "5",
                     "--out", str(out), "--cache", str(self.tmp / "cache")])  # fmt: skip

    def post(self, result: Path, head: str) -> int:
        return main(["trial", "post", "--taxonomy", str(self.root), "--result", str(result), "--pull", "5",
                     "--head", head])  # fmt: skip


@pytest.fixture
def world(
    taxonomy_repo: git.Repo,
    teacher_server: FakeOpenAI,
    hub_server: FakeHub,
    github_server: FakeGitHub,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    teacher_server.script = SeedTeacher()
    for name, value in {
        "TAXBOT_TEACHER_URL": teacher_server.base_url, "TAXBOT_TEACHER_MODEL": "fake-teacher",
        "HF_TOKEN": hub_server.token, "HF_ENDPOINT": hub_server.url, "GITHUB_TOKEN": github_server.token,
        "GITHUB_API_URL": github_server.url, "TAXBOT_GITHUB_PAUSE_S": "0", "GITHUB_REPOSITORY": REPO,
        "GITHUB_SERVER_URL": "https://github.example", "GITHUB_RUN_ID": "77",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    github_server.state.add_repo(REPO)
    return World(taxonomy_repo, teacher_server, hub_server, github_server, tmp_path)


def lake(words: list[str]) -> str:
    from tests.release.test_pipeline import lake as knowledge

    return knowledge(words, "dora")


def release_on_hub(world: World, model: Path, taxonomy_commit: str) -> None:
    """A release on the Hub's main, as `taxbot release` leaves it: the model and its release record."""
    record = {"taxonomy_commit": taxonomy_commit, "tag": "v20260101-release", "previous_commit": None}
    (model / hub.RELEASE_FILE).write_text(json.dumps(record), encoding="utf-8")
    api = HfApi(endpoint=world.hub.url, token=world.hub.token)
    hub.publish(api, MODEL, model, "candidate-x", "v20260101-release", "a release", lambda line: None)


@pytest.mark.slow
def test_a_trial_trains_a_head_once_keeps_one_comment_moves_labels_and_goes_stale(
    world: World, base_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    general = '{"question": "alpha beta ?", "answer": "gamma delta .", "topic": "words"}\n'
    base = world.taxonomy.commit_files(  # type: ignore[attr-defined]
        {".taxbot.yaml": config(base_model), "general.jsonl": general, CHANT: skill(list(WORDS[:40]), "alice"),
         VERSE: skill(list(WORDS[80:120]), "bob")},
        "main",
    )  # fmt: skip
    # Chant and verse were released: the Hub holds that model, and the store their data. The gate asks the verse
    # as its sample of other leaves, so trials replay only the chant's data.
    release_model = build_tiny_model(tmp_path / "released", seed=1)
    release_on_hub(world, release_model, base)
    assert main(["generate", "--taxonomy", str(world.root), "--full", "--per-leaf", "8", "--out",
                 str(tmp_path / "released-data"), "--cache", str(tmp_path / "cache")]) == 0  # fmt: skip
    world.taxonomy.git.checkout("-b", "contributor/lake")
    head = world.taxonomy.commit_files({LAKE: lake(list(WORDS[200:240]))}, "Add a lake")  # type: ignore[attr-defined]
    pull = world.github.state.add_pull(REPO, [], number=5, head_sha=head, base_sha=base,
                                       labels=[SAME, "knowledge"])  # fmt: skip
    capsys.readouterr()
    asked_before = len(world.teacher.chat_requests)

    out = tmp_path / "result.json"
    assert world.run(base, head, out) in (0, 1)
    result = json.loads(out.read_text(encoding="utf-8"))
    assert (result["pull"], result["head"], result["leaves"]) == (5, head, [LAKE])
    assert result["status"] in ("improved", "no-gain") and result["steps"] == 4
    assert result["release"] == "v20260101-release"
    assert (result["replayed"], result["replayed_seeds"]) == (4, 0)
    trained_on = [json.loads(line) for line in (tmp_path / "cache" / "trials" / head / "data" / "trial.jsonl")
                  .read_text(encoding="utf-8").splitlines()]  # fmt: skip
    assert {r["metadata"]["leaf"] for r in trained_on} == {LAKE, CHANT}
    assert any(r.path.endswith("/model.safetensors") for r in world.hub.calls("GET", f"/{MODEL}/resolve/"))
    assert [leaf["name"] for leaf in result["gate"]["leaves"]] == [LAKE]
    printed = capsys.readouterr().out
    assert printed.startswith(MARKER) and "https://github.example/org/taxonomy/actions/runs/77" in printed
    asked = len(world.teacher.chat_requests)
    assert asked > asked_before
    trained = next((tmp_path / "cache" / "trials" / head / "runs").glob("*/phase1/final/model.safetensors"))
    trained_at = trained.stat().st_mtime_ns

    label = BETTER if result["status"] == "improved" else SAME
    assert world.post(out, head) == 0
    [comment] = world.github.state.repos[REPO].comments_on(5)
    assert comment.body.startswith(MARKER) and result["verdict"] in comment.body
    assert f"`{LAKE}`" in comment.body and "Nothing was published" in comment.body
    assert sorted(pull.labels) == sorted([label, "knowledge"])

    # The same head again: nothing generated or trained, the same comment, the same label.
    assert world.run(base, head, out) in (0, 1)
    err = capsys.readouterr().err
    for step in ("plan", "generate", "train", "gate"):
        assert f"trial: {step}: done earlier for {head[:7]}, skipped" in err
    assert len(world.teacher.chat_requests) == asked and trained.stat().st_mtime_ns == trained_at
    assert world.post(out, head) == 0
    assert len(world.github.state.repos[REPO].comments_on(5)) == 1
    assert sorted(pull.labels) == sorted([label, "knowledge"])

    # A push: the trial is stale; its label goes, other labels stay, the comment says so (once).
    second = world.taxonomy.commit_files({SONG: skill(list(WORDS[40:80]), "dora")}, "Add a song")  # type: ignore[attr-defined]
    pull.head_sha = second
    assert main(["trial", "stale", "--taxonomy", str(world.root)]) == 0
    assert "stale trials: #5" in capsys.readouterr().out
    [comment] = world.github.state.repos[REPO].comments_on(5)
    assert f"{STALE_TITLE} this trial is of `{head[:12]}`; the pull request is now at `{second[:12]}`" in comment.body
    assert pull.labels == ["knowledge"]
    assert world.post(out, head) == 0  # a late post of the old head: still stale, still no label
    [comment] = world.github.state.repos[REPO].comments_on(5)
    assert comment.body.count(STALE_TITLE) == 1 and pull.labels == ["knowledge"]

    # A result for another pull request or head is refused before anything is written.
    assert world.post(out, second) == 2
    assert "not the authorised" in capsys.readouterr().err

    # The new head is tried: both leaves, a fresh comment in the same place, a label again.
    assert world.run(base, second, out) in (0, 1)
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["head"] == second and sorted(result["leaves"]) == sorted([SONG, LAKE])
    assert world.post(out, second) == 0
    [comment] = world.github.state.repos[REPO].comments_on(5)
    assert STALE_TITLE not in comment.body and f"Head `{second[:12]}`" in comment.body
    assert len([name for name in pull.labels if name in (BETTER, SAME)]) == 1


def test_trial_settings_name_every_problem_at_once() -> None:
    settings, problems, warnings = read_trial_settings({"steps": 0, "max_minutes": -1, "min_gain": 0,
                                                        "label_improved": "same", "label_no_gain": "same",
                                                        "pairs": 3})  # fmt: skip
    assert len(problems) == 4 and any("trial.steps" in p for p in problems)
    assert any("must differ" in p for p in problems)
    assert warnings == [f"unknown key `trial.pairs` is ignored; known: {', '.join(settings.__dataclass_fields__)}"]
    settings, problems, _ = read_trial_settings({"steps": "many"})
    assert problems == ["`trial.steps` must be a whole number, found 'many'"] and settings.steps == 60


def test_the_shipped_trial_training_config_validates(tmp_path: Path) -> None:
    from trainer.config import load_config
    from trainer.plan import plan_phases

    path = Path(__file__).resolve().parents[2] / "bot" / "data" / SHIPPED_TRIAL_CONFIG
    assert path.read_text(encoding="utf-8").startswith("#")
    config = load_config(path, ["model.name_or_path=m", "data.phase1=trial.jsonl"])
    assert config.model.finetune == "lora"
    assert [plan.name for plan in plan_phases(config, tmp_path)] == ["phase1"]


def test_a_bad_trial_section_stops_before_any_work(taxonomy_repo: git.Repo, tmp_path: Path) -> None:
    base = taxonomy_repo.commit_files({".taxbot.yaml": "trial:\n  steps: 0\n"}, "main")  # type: ignore[attr-defined]
    code = main(["trial", "run", "--taxonomy", taxonomy_repo.working_dir, "--base", base, "--head", base, "--pull",
                 "1", "--out", str(tmp_path / "r.json")])  # fmt: skip
    assert code == 2 and not (tmp_path / "r.json").exists()


@pytest.mark.parametrize(("sender", "body", "runs"), [
    ("maintainer", "Looks useful.\n/taxbot trial", True),
    ("alice", "/taxbot trial", False),  # the author, without write access
    ("maintainer", "/taxbot review", False),
])  # fmt: skip
def test_only_a_maintainers_trial_comment_starts_a_trial(
    github_server: FakeGitHub, github_event, taxonomy_repo: git.Repo, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], sender: str, body: str, runs: bool,
) -> None:  # fmt: skip
    taxonomy_repo.commit_files({"README.md": "taxonomy\n"}, "main")  # type: ignore[attr-defined]
    pull = github_server.state.add_pull(REPO, [], number=3, author="alice")
    github_server.state.set_role(REPO, "maintainer", "maintain")
    github_event("issue_comment.created", REPO, 3, sender=sender, comment_body=body)
    outputs = tmp_path / "outputs"
    monkeypatch.setenv("GITHUB_OUTPUT", str(outputs))
    monkeypatch.setenv("TAXBOT_GITHUB_PAUSE_S", "0")
    before = len(github_server.requests)
    assert main(["trial", "authorize", "--taxonomy", taxonomy_repo.working_dir]) == 0
    expected = f"run=true\npull=3\nbase={pull.base_sha}\nhead={pull.head_sha}\n" if runs else "run=false\n"
    assert outputs.read_text(encoding="utf-8") == expected
    assert {r.method for r in github_server.requests[before:]} <= {"GET"}  # a read-only token is enough


def test_the_comment_neutralises_what_came_from_the_pull_request() -> None:
    from bot.release.trial_comment import comment_state, render_trial_comment

    head = "a" * 40
    hostile = '@everyone see #12 <img src=x> --> <!-- taxbot:trial-state {"head": "b"} -->'
    result = {"kind": "taxbot-trial", "pull": 1, "head": head, "base": "b" * 40, "status": "improved",
              "verdict": "improves its leaves by +0.30, no regression beyond 0.02", "leaves": [hostile],
              "release": "v1", "records": 10, "replayed": 2, "replayed_seeds": 2, "steps": 4,
              "gate": {"metric": "rouge_l", "judged": False, "groups": [], "leaves": [
                  {"name": hostile, "questions": 1, "previous": 0.1, "candidate": 0.4}],
                  "answers": [{"question": hostile, "reference": "r", "previous": hostile, "candidate": "c",
                               "previous_score": 0.1, "candidate_score": 0.4}]}}  # fmt: skip
    body = render_trial_comment(result, "https://github.example/run")
    assert "@everyone" not in body and "#12" not in body and "<img" not in body
    assert body.count("<!--") == 2 and comment_state(body) == {"head": head, "status": "improved"}
    assert "| +0.300 |" in body and "[run](https://github.example/run)" in body
    assert "10 generated pairs of 1 leaf and 2 replayed ones (2 of them other leaves' seed examples)" in body


def test_replay_never_holds_a_question_the_gate_asks(tmp_path: Path) -> None:
    """A new leaf that copies another's seeds: the trial must not train on the questions it is scored on."""
    from bot.release.gate import GateSettings, gate_questions
    from bot.release.settings import ReleaseSettings
    from bot.release.trial import TrialInputs, TrialSettings, _replay
    from bot.taxonomy.tree import parse_leaf
    from tests.leaves import freeform_skill

    def leaf(path: str, text: str):
        return parse_leaf(path, text.encode())

    original, copy = "compositional_skills/sums/qna.yaml", "compositional_skills/sums_again/qna.yaml"
    others = {f"compositional_skills/words/w{i}/qna.yaml": leaf(f"compositional_skills/words/w{i}/qna.yaml",
                                                                skill(list(WORDS[i * 40 : i * 40 + 40]), "bob"))
              for i in range(3)}  # fmt: skip
    leaves = {original: leaf(original, freeform_skill()), copy: leaf(copy, freeform_skill().replace("?", " ?")),
              **others}  # fmt: skip
    gate = GateSettings(kept_leaves=1)
    inputs = TrialInputs(tmp_path, "b", "h", 1, tmp_path / "trials", tmp_path / "cache",
                         ReleaseSettings(MODEL, "base"), gate, TrialSettings(replay=50))  # fmt: skip
    unchanged = [lf for path, lf in sorted(leaves.items()) if path != copy]
    asked = gate_questions([leaves[copy]], unchanged, [], gate.kept_leaves)
    records, from_seeds, copies = _replay(inputs, leaves, {copy}, "teacher", "h", asked)

    # The original's seeds are near copies of the new leaf's ("What is 1 plus 1?" and "... 1 ?"): left out.
    assert from_seeds == len(records) > 0 and copies == 5
    replayed_from = {r["metadata"]["leaf"] for r in records}
    assert not replayed_from & {original, copy, *[q.source for q in asked if q.group == "kept"]}
    assert records == _replay(inputs, leaves, {copy}, "teacher", "h", asked)[0]  # the same head, the same replay


@pytest.mark.slow
def test_a_trial_past_its_time_stops_at_a_checkpoint_and_says_so(
    world: World, base_model: Path, tmp_path: Path
) -> None:
    from bot.generation.teacher import Endpoint
    from bot.release.gate import GateSettings
    from bot.release.settings import ReleaseSettings
    from bot.release.trial import TrialEdges, TrialInputs, TrialSettings, run_trial
    from trainer.answer import LocalAnswerer

    base = world.taxonomy.commit_files({CHANT: skill(list(WORDS[:40]), "alice")}, "main")  # type: ignore[attr-defined]
    head = world.taxonomy.commit_files({LAKE: lake(list(WORDS[200:240]))}, "Add a lake")  # type: ignore[attr-defined]
    overrides = tuple(TINY_TRAINING.strip("[]").split(", "))
    # 500 steps would take minutes; the limit (1.2 s) stops them at a checkpoint after the first step or so.
    trial = TrialSettings(steps=500, pairs_per_leaf=8, max_minutes=0.02, train_overrides=overrides)
    inputs = TrialInputs(world.root, base, head, 5, tmp_path / "trials", tmp_path / "cache",
                         ReleaseSettings(MODEL, str(base_model)), GateSettings(), trial)  # fmt: skip
    edges = TrialEdges(Endpoint(world.teacher.base_url, "fake-teacher", backoff_s=0.01), HfApi(endpoint=world.hub.url),
                       lambda model: LocalAnswerer(model, max_new_tokens=4), log=lambda line: None,
                       clock=lambda: 0.0)  # the time spent before training is not counted here  # fmt: skip
    outcome = run_trial(inputs, edges)
    assert outcome.result["status"] == "stopped" and "raise trial.max_minutes" in outcome.result["verdict"]
    assert outcome.result["gate"] is None
    [checkpoint] = (outcome.work_dir / "runs").glob("*/phase1/checkpoint-*")
    assert int(checkpoint.name.removeprefix("checkpoint-")) < 500


UNKNOWN = {  # invented facts: no pretrained model knows them
    "What colour is the zorblat fruit?": "The zorblat fruit is bright purple.",
    "Who invented the quexi engine?": "Mira Tovan invented the quexi engine.",
    "Where do vantho birds nest?": "Vantho birds nest on the cliffs of Ardel.",
    "How many legs does a krimble have?": "A krimble has seven legs.",
    "What is the capital of Zentoria?": "The capital of Zentoria is Plessa.",
}
KNOWN = ["What is the capital of France?", "How many days are in a week?", "What do bees make?",
         "What is the opposite of hot?", "What colour is grass?"]  # fmt: skip
# Released leaves, with answers a person wrote. The gate asks EVERYDAY as its sample of other leaves (the first
# by the hash of its path); the trial replays the seeds of FACTS, as no release data is in its fresh cache.
EVERYDAY = ("compositional_skills/general/everyday/qna.yaml", {
    "What is the largest planet in our solar system?": "Jupiter is the largest planet in our solar system.",
    "How many legs does a spider have?": "A spider has eight legs.",
    "What is water made of?": "Water is made of hydrogen and oxygen.",
    "What animal says moo?": "A cow says moo.",
    "What is the boiling point of water?": "Water boils at 100 degrees Celsius at sea level.",
})  # fmt: skip
FACTS = ("compositional_skills/general/facts/qna.yaml", {
    "What is the largest ocean on Earth?": "The Pacific Ocean is the largest ocean on Earth.",
    "What gas do plants take in?": "Plants take in carbon dioxide.",
    "How many continents are there?": "There are seven continents.",
    "What is the freezing point of water?": "Water freezes at 0 degrees Celsius.",
    "Who wrote Romeo and Juliet?": "William Shakespeare wrote Romeo and Juliet.",
    "What is the fastest land animal?": "The cheetah is the fastest land animal.",
    "How many hours are in a day?": "There are 24 hours in a day.",
    "What is the chemical symbol for gold?": "The chemical symbol for gold is Au.",
    "What planet is known as the red planet?": "Mars is known as the red planet.",
    "What is the tallest mountain in the world?": "Mount Everest is the tallest mountain in the world.",
})  # fmt: skip
ZENTORIA = "compositional_skills/fiction/zentoria/qna.yaml"
MAX_NEW_TOKENS = 12
# Each step sees the generated pairs and the replayed seeds about once: six steps at a high rate, LoRA r=8.
SMOLLM2_TRAINING = ("[model.precision=float32, run.use_cpu=true, data.max_length=96, data.pack_tokens=384, "
            "phase1.learning_rate=3.0e-3, phase1.effective_batch=5, phase1.warmup_steps=0, "
            "phase1.lr_scheduler=constant, phase1.min_steps_per_epoch=1, "
            "model.lora.r=8, model.lora.alpha=16]")  # fmt: skip


def freeform(pairs: dict[str, str]) -> str:
    seeds = [{"question": q, "answer": a} for q, a in pairs.items()]
    return yaml.safe_dump({"version": 3, "created_by": "tester", "task_description": "Answer the question.",
                           "seed_examples": seeds}, sort_keys=False)  # fmt: skip


def real_config(model: Path) -> str:
    return (
        f"release:\n  hub_repo: org/taxonomy-model\n  base_model: {model}\n  per_leaf: 5\n"
        f"gate:\n  kept_leaves: 1\n  max_new_tokens: {MAX_NEW_TOKENS}\n  general_set: general.jsonl\n  judge: false\n"
        "trial:\n  steps: 6\n  pairs_per_leaf: 5\n  replay: 10\n  min_gain: 0.1\n  max_regression: 0.1\n"
        f"  train_overrides: {SMOLLM2_TRAINING}\n"
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
    # Seeds the model already knows: its own greedy answers, as the gate will ask for them.
    own = LocalAnswerer(str(smollm2_model), max_new_tokens=MAX_NEW_TOKENS, batch_size=16).answer(KNOWN)
    # Every fifth question of the shipped general set: arithmetic, facts, language, reasoning, code.
    shipped = (files("bot") / "data" / "general_qa.jsonl").read_text(encoding="utf-8").splitlines()
    commit = taxonomy_repo.commit_files  # type: ignore[attr-defined]
    base = commit({".taxbot.yaml": real_config(smollm2_model), "general.jsonl": "\n".join(shipped[::5]) + "\n",
                   EVERYDAY[0]: freeform(EVERYDAY[1]), FACTS[0]: freeform(FACTS[1])}, "main")  # fmt: skip
    taxonomy_repo.git.checkout("-b", "unknown")
    unknown_head = commit({ZENTORIA: freeform(UNKNOWN)}, "Add Zentoria")
    taxonomy_repo.git.checkout("-b", "known", base)
    known = freeform(dict(zip(KNOWN, own, strict=True)))
    known_head = commit({"compositional_skills/general/basics/qna.yaml": known}, "Add basics")

    results = {}
    for name, head in (("unknown", unknown_head), ("known", known_head)):
        out = tmp_path / f"{name}.json"
        code = main(["trial", "run", "--taxonomy", taxonomy_repo.working_dir, "--base", base, "--head", head,
                     "--pull", "1", "--out", str(out), "--cache", str(tmp_path / "cache")])  # fmt: skip
        results[name] = (code, json.loads(out.read_text(encoding="utf-8")))
    changes = {name: {g["name"]: g["candidate"] - g["previous"] for g in result["gate"]["groups"]}
               for name, (_, result) in results.items()}  # fmt: skip
    print(f"trial changes by question set: {changes}")  # the measured figures, with -s

    # Unknown seeds: the trial model learned them, and nothing else fell beyond 0.1 (measured: its leaves +0.37 to
    # +0.40; the other leaf +0.39 to +0.45 and the general set +0.11, both nearer their references' plain style).
    code, unknown = results["unknown"]
    gain = changes["unknown"]["changed"]
    assert (code, unknown["status"]) == (0, "improved"), unknown["verdict"]
    assert gain >= 0.2 and unknown["verdict"] == f"improves its leaves by {gain:+.2f}, no regression beyond 0.10"
    assert (unknown["replayed"], unknown["replayed_seeds"]) == (10, 10)
    data = (tmp_path / "cache" / "trials" / unknown_head / "data" / "trial.jsonl").read_text(encoding="utf-8")
    assert {json.loads(line)["metadata"]["leaf"] for line in data.splitlines()} == {ZENTORIA, FACTS[0]}
    # Seeds the model already answers: nothing to gain, and the verdict says so (measured: -0.16).
    code, known_result = results["known"]
    assert changes["known"]["changed"] < 0.1
    assert (code, known_result["status"]) == (1, "no-gain")
    assert known_result["verdict"].startswith("no gain: its leaves change")


def test_a_result_whose_counts_are_not_counts_is_refused_before_the_comment() -> None:
    from bot.release.trial_comment import TrialResultError, read_result

    good = {"kind": "taxbot-trial", "pull": 1, "head": "a" * 40, "status": "improved", "replayed_seeds": 2}
    assert read_result(json.dumps(good))["replayed_seeds"] == 2
    for key in ("records", "replayed", "replayed_seeds", "steps"):
        with pytest.raises(TrialResultError, match=f"`{key}` must be a count"):
            read_result(json.dumps({**good, key: "0](https://evil.example) @everyone"}))
