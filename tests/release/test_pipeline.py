"""`taxbot release` end to end on CPU: a tiny model, the scripted teacher, and fakes of the Hub and GitHub."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import git
import pytest

pytest.importorskip("torch", reason="needs the `train` extra")
pytest.importorskip("transformers", reason="needs the `train` extra")
pytest.importorskip("huggingface_hub", reason="needs the `train` extra")

from huggingface_hub import ModelCard

from bot.cli import main
from bot.release.notes import MARKER
from tests.fakes.github_server import FakeGitHub
from tests.fakes.hf_server import FakeHub
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.seed_teacher import SeedTeacher
from tests.fakes.tiny_model import build_tiny_model

TINY_CPU = Path(__file__).resolve().parents[2] / "trainer" / "configs" / "tiny_cpu.yaml"
REPO, MODEL = "org/taxonomy", "org/taxonomy-model"
CHANT = "compositional_skills/writing/chant/qna.yaml"
LAKE = "knowledge/geography/lakes/qna.yaml"


def skill(words: list[str], author: str) -> str:
    """A freeform skill in the tiny tokenizer's words; every answer shares its first four words."""
    chorus = " ".join(words[20:24])
    seeds = "".join(
        f"  - question: {words[i]} {words[i + 5]} {words[i + 10]} ?\n    answer: {chorus} {words[i]} .\n"
        for i in range(5)
    )
    return f"version: 3\ncreated_by: {author}\ntask_description: Chant the words back.\nseed_examples:\n{seeds}"


def lake(words: list[str], author: str = "tester") -> str:
    """A knowledge leaf in the tiny tokenizer's words (its document cannot be fetched: seed contexts stand in)."""
    seeds = ""
    for i in range(5):
        seeds += f"  - context: {' '.join(words[i : i + 8])} .\n    questions_and_answers:\n"
        for j in range(3):
            seeds += f"      - question: {words[i + j]} {words[30]} ?\n        answer: {words[31]} {words[i + j]} .\n"
    return (
        f"version: 3\ncreated_by: {author}\ndomain: geography\ndocument_outline: Facts about a lake\n"
        "document:\n  repo: https://example.invalid/docs.git\n  commit: 0123456789abcdef0123456789abcdef01234567\n"
        f"  patterns:\n    - lake.md\nseed_examples:\n{seeds}"
    )


def config(base_model: Path, learning_rate: float = 3e-3, processes: int = 0, **gate: object) -> str:
    # A tiny random model learns some leaves in a few steps, not each one, and knows too few words not to repeat
    # itself: the rule for every leaf and the checks for degenerate answers are off here.
    gate = {"kept_leaves": 2, "max_new_tokens": 8, "judge": "false", "every_leaf": "false", "degenerate": "false",
            **gate}  # fmt: skip
    gate_lines = "".join(f"  {key}: {value}\n" for key, value in gate.items())
    return (
        f"release:\n  hub_repo: {MODEL}\n  base_model: {base_model}\n  train_config: {TINY_CPU}\n"
        "  train_overrides: [phase1.max_steps=6, phase2.max_steps=12, data.replay_fraction=0.2,"
        f" phase1.learning_rate={learning_rate}, phase2.learning_rate={learning_rate}]\n"
        f"  per_leaf: 8\n  github_repo: {REPO}\n  license: apache-2.0\n  train_processes: {processes}\n"
        f"gate:\n{gate_lines}teacher:\n  backoff_s: 0.01\n  retries: 1\n"
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
    work: Path
    cache: Path

    @property
    def root(self) -> Path:
        return Path(self.taxonomy.working_dir)

    def commit(self, files: dict[str, str], message: str) -> str:
        return self.taxonomy.commit_files(files, message)  # type: ignore[attr-defined]

    def release(self, sha: str, *options: str) -> int:
        argv = ["release", "--taxonomy", str(self.root), "--commit", sha, "--work", str(self.work)]
        return main([*argv, "--cache", str(self.cache), *options])


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
        "GITHUB_API_URL": github_server.url, "TAXBOT_GITHUB_PAUSE_S": "0",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    github_server.state.add_repo(REPO)
    github_server.state.add_pull(REPO, [], number=7, author="alice", title="Add a chant")
    github_server.state.add_pull(REPO, [], number=9, author="dora", title="Update the lake")
    return World(taxonomy_repo, teacher_server, hub_server, github_server, tmp_path / "work", tmp_path / "cache")


def first_commit(world: World, base_model: Path, **settings: object) -> str:
    from tests.fakes.phase_sets import WORDS

    files = {
        ".taxbot.yaml": config(base_model, **settings),
        CHANT: skill(list(WORDS[:40]), "alice"),
        LAKE: lake(list(WORDS[200:240])),
    }
    return world.commit(files, "Merge pull request #7 from alice/chant\n\nAdd a chant")


@pytest.mark.slow
def test_a_release_lands_on_the_hub_and_github_and_a_killed_one_resumes(
    world: World, base_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sha = first_commit(world, base_model, processes=2)  # training runs in two ranks (torchrun, gloo)
    world.hub.fail(path="/tag/")  # the run dies after the upload, before the tag
    assert world.release(sha) == 1
    assert "the Hub failed to publish" in capsys.readouterr().err
    asked = len(world.teacher.chat_requests)
    assert asked > 0
    for phase in ("phase1", "phase2"):
        metadata = json.loads(
            (world.work / sha / "runs" / sha[:12] / phase / "final" / "taxbot_phase.json").read_text()
        )
        assert metadata["batch"]["world_size"] == 2 and metadata["steps"] == {"phase1": 6, "phase2": 12}[phase]

    assert world.release(sha) == 0
    out, err = capsys.readouterr()
    for step in ("plan", "generate", "train", "gate"):
        assert f"release: {step}: done earlier for {sha[:7]}, skipped" in err
    assert len(world.teacher.chat_requests) == asked  # nothing generated twice
    tag = f"v{world.taxonomy.commit(sha).committed_datetime.strftime('%Y%m%d')}-{sha[:7]}"
    assert f"released {tag}: {world.hub.url}/{MODEL}/tree/{tag}" in out
    assert "| new and changed leaves |" in out

    hub = world.hub.repos[MODEL]
    assert hub.tags[tag] == hub.branches["main"]
    assert set(hub.branches) == {"main", f"candidate-{sha[:7]}"}
    files = world.hub.files(MODEL, tag)
    assert {"README.md", "config.json", "model.safetensors", "loss_curves.png", "gate.json", "taxbot_release.json",
            "tokenizer.json"} <= set(files)  # fmt: skip
    assert files["loss_curves.png"].startswith(b"\x89PNG")
    assert files == world.hub.files(MODEL, f"candidate-{sha[:7]}")  # main is the candidate, promoted
    assert "training_args.bin" not in files  # no pickles
    assert not [name for name, content in files.items() if str(world.work).encode() in content
                or str(base_model).encode() in content]  # no paths of the runner  # fmt: skip
    card = ModelCard(files["README.md"].decode())
    assert card.data.license == "apache-2.0" and "taxbot" in card.data.tags
    assert f"| `{CHANT}` | added | alice |" in card.text and f"| `{LAKE}` | added | tester |" in card.text
    assert "- [#7](" in card.text and "by @alice" in card.text
    assert "| phase1 |" in card.text and "| phase2 |" in card.text
    assert "**Gate: passed**" in card.text

    [release] = world.github.state.repos[REPO].releases.values()
    assert (release.tag_name, release.target_commitish) == (tag, sha)
    assert f"{world.hub.url}/{MODEL}/resolve/{tag}/loss_curves.png" in (release.body or "")
    [comment] = world.github.state.repos[REPO].comments_on(7)
    assert comment.body.startswith(MARKER) and f"release **{tag}**" in comment.body
    assert "releases/tag/" + tag in comment.body
    assert f"| `{CHANT}` |" in comment.body  # the leaves its merge commit brought

    assert world.release(sha) == 0  # a third run finds everything done and changes nothing
    assert len(world.github.state.repos[REPO].comments_on(7)) == 1


@pytest.mark.slow
def test_the_next_release_starts_from_the_last_and_names_only_what_changed(world: World, base_model: Path) -> None:
    from tests.fakes.phase_sets import WORDS

    first = first_commit(world, base_model)
    assert world.release(first) == 0
    second = world.commit({LAKE: lake(list(WORDS[240:280]), "dora")}, "Update the lake (#9)")
    assert world.release(second) == 0

    record = json.loads(world.hub.files(MODEL)["taxbot_release.json"])
    assert record["taxonomy_commit"] == second and record["previous_commit"] == first
    assert record["leaves"] == [{"path": LAKE, "status": "modified", "old_path": None}] and record["pulls"] == [9]
    downloads = world.hub.calls("GET", f"/{MODEL}/resolve/")
    assert any(r.path.endswith("/model.safetensors") for r in downloads)  # the previous release answered the gate
    gate = json.loads(world.hub.files(MODEL)["gate.json"])
    assert [leaf["name"] for leaf in gate["leaves"]] == [LAKE]
    repo = world.github.state.repos[REPO]
    assert len(repo.releases) == 2 and len(repo.comments_on(7)) == 1 and len(repo.comments_on(9)) == 1
    [comment] = repo.comments_on(9)
    assert f"| `{LAKE}` |" in comment.body and CHANT not in comment.body  # its own leaf, not the average of all


@pytest.mark.slow
def test_a_candidate_that_learned_nothing_is_not_published(
    world: World, base_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Steps of 1e-12 fall below float32 precision on these weights: the candidate is the base model.
    sha = first_commit(world, base_model, learning_rate=1e-12)
    assert world.release(sha) == 1
    out, err = capsys.readouterr()
    assert "**Gate: failed**" in out and "- FAIL: improves the new leaves" in out
    assert "the candidate did not pass the gate; nothing was published" in err
    assert MODEL not in world.hub.repos and not world.github.state.repos[REPO].releases
    assert world.release(sha) == 1  # the verdict stands on a rerun, without asking again
    assert "gate: done earlier" in capsys.readouterr().err


def test_a_release_without_a_hub_token_stops_before_any_work(
    world: World, base_model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HF_TOKEN")
    assert world.release(first_commit(world, base_model)) == 2
    expected = f"\n  HF_TOKEN is not set: the release needs a Hub token that can write {MODEL}"
    assert expected in capsys.readouterr().err
    assert not world.teacher.requests and not world.work.exists()


def test_release_settings_are_checked_before_any_work(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    sha = world.commit({".taxbot.yaml": "release:\n  hub_repo: nobody\ngate:\n  min_gain: 0\n"}, "config")
    assert world.release(sha) == 2
    err = capsys.readouterr().err
    assert "taxbot: 4 problem(s) before the release can start:" in err  # 3 in the config, and no GitHub repo
    assert f".taxbot.yaml at {sha[:12]}: `gate.min_gain` must be above 0" in err


def test_announcing_alone_needs_the_journal_but_no_hub_token(
    world: World, base_model: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HF_TOKEN")  # the announce job holds the GitHub write token and nothing else
    sha = first_commit(world, base_model)
    assert world.release(sha, "--steps", "announce") == 1
    assert f"plan has not run for {sha[:7]}" in capsys.readouterr().err
    assert not world.teacher.requests and not world.github.state.repos[REPO].releases
    assert world.release(sha, "--steps", "train,deploy") == 2
    assert "unknown release step(s) deploy" in capsys.readouterr().err
