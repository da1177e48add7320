"""The Hub edge with the real huggingface_hub client against the fake Hub: publish, promote, tag, read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("huggingface_hub", reason="needs the `train` extra")

from huggingface_hub import HfApi

from bot.release.hub import RELEASE_FILE, HubError, download, previous_release, publish
from tests.fakes.hf_server import FakeHub

MODEL = "org/model"


def release_folder(root: Path, tag: str, weights: bytes = b"weights-1") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("---\nlicense: apache-2.0\n---\n# model\n", encoding="utf-8")
    (root / "model.safetensors").write_bytes(weights)
    (root / RELEASE_FILE).write_text(json.dumps({"taxonomy_commit": "a" * 40, "tag": tag}), encoding="utf-8")
    return root


def api(hub: FakeHub, token: str | None = None) -> HfApi:
    return HfApi(endpoint=hub.url, token=token or hub.token)


def test_publish_uploads_a_candidate_branch_promotes_it_and_tags_main(hub_server: FakeHub, tmp_path: Path) -> None:
    logged: list[str] = []
    done = publish(api(hub_server), MODEL, release_folder(tmp_path / "r1", "v1"), "candidate-1", "v1", "release v1",
                   logged.append)  # fmt: skip
    repo = hub_server.repos[MODEL]
    assert repo.branches["main"] == done.main_commit == repo.tags["v1"]
    assert repo.branches["candidate-1"] == done.candidate_commit
    assert hub_server.files(MODEL, "v1") == hub_server.files(MODEL, "candidate-1")
    assert hub_server.files(MODEL, "v1")["model.safetensors"] == b"weights-1"
    assert logged == [
        f"hub: {MODEL}@candidate-1 is {done.candidate_commit}",
        f"hub: {MODEL}@main is {done.main_commit}",
    ]


def test_a_rerun_commits_nothing_new_and_keeps_the_tag(hub_server: FakeHub, tmp_path: Path) -> None:
    folder = release_folder(tmp_path / "r1", "v1")
    first = publish(api(hub_server), MODEL, folder, "candidate-1", "v1", "release v1", lambda _: None)
    commits = len(hub_server.repos[MODEL].commits)
    again = publish(api(hub_server), MODEL, folder, "candidate-1", "v1", "release v1", lambda _: None)
    assert again == first and len(hub_server.repos[MODEL].commits) == commits


def test_the_next_release_replaces_every_file_on_main(hub_server: FakeHub, tmp_path: Path) -> None:
    publish(api(hub_server), MODEL, release_folder(tmp_path / "r1", "v1"), "candidate-1", "v1", "v1", lambda _: None)
    second = release_folder(tmp_path / "r2", "v2", b"weights-2")
    (second / "model.safetensors").rename(second / "model-00001-of-00001.safetensors")
    publish(api(hub_server), MODEL, second, "candidate-2", "v2", "v2", lambda _: None)
    assert set(hub_server.files(MODEL)) == {".gitattributes", "README.md", "model-00001-of-00001.safetensors",
                                            RELEASE_FILE}  # fmt: skip
    assert hub_server.files(MODEL, "v1")["model.safetensors"] == b"weights-1"  # the old tag still has its files


def test_previous_release_and_its_files_come_back(hub_server: FakeHub, tmp_path: Path) -> None:
    assert previous_release(api(hub_server), MODEL, tmp_path / "scratch") is None  # no repository yet
    hub_server.repos.clear()
    api(hub_server).create_repo(MODEL)
    assert previous_release(api(hub_server), MODEL, tmp_path / "scratch") is None  # a repository, no release
    done = publish(api(hub_server), MODEL, release_folder(tmp_path / "r1", "v1"), "c", "v1", "v1", lambda _: None)
    previous = previous_release(api(hub_server), MODEL, tmp_path / "scratch")
    assert previous is not None and (previous.revision, previous.tag) == (done.main_commit, "v1")
    folder = download(api(hub_server), MODEL, previous.revision, tmp_path / "previous")
    assert (folder / "model.safetensors").read_bytes() == b"weights-1"


def test_a_token_without_write_access_says_so(hub_server: FakeHub, tmp_path: Path) -> None:
    with pytest.raises(HubError, match=f"the Hub refused to publish v1 to {MODEL} \\(401\\): check that HF_TOKEN"):
        publish(api(hub_server, "hf_read_only"), MODEL, release_folder(tmp_path / "r", "v1"), "c", "v1", "m",
                lambda _: None)  # fmt: skip


def test_a_tag_left_on_an_older_commit_is_refused(hub_server: FakeHub, tmp_path: Path) -> None:
    publish(api(hub_server), MODEL, release_folder(tmp_path / "r1", "v1"), "c1", "v1", "v1", lambda _: None)
    changed = release_folder(tmp_path / "r2", "v1", b"retrained")
    with pytest.raises(HubError, match=r"tag v1 on org/model points at .*delete that tag on the Hub to publish again"):
        publish(api(hub_server), MODEL, changed, "c1", "v1", "v1", lambda _: None)


def test_a_hub_outage_is_a_hub_error(hub_server: FakeHub, tmp_path: Path) -> None:
    hub_server.fail(times=10, path="/api/repos/create")
    with pytest.raises(HubError, match=r"the Hub failed to publish v1 to org/model \(500\)"):
        publish(api(hub_server), MODEL, release_folder(tmp_path / "r", "v1"), "c", "v1", "m", lambda _: None)


def test_each_branch_gets_every_file_in_one_commit(hub_server: FakeHub, tmp_path: Path) -> None:
    folder = release_folder(tmp_path / "r1", "v1")
    (folder / "tokenizer.json").write_text("{}", encoding="utf-8")
    publish(api(hub_server), MODEL, folder, "candidate-1", "v1", "v1", lambda _: None)
    second = release_folder(tmp_path / "r2", "v2", b"weights-2")
    publish(api(hub_server), MODEL, second, "candidate-2", "v2", "v2", lambda _: None)
    commits = hub_server.calls("POST", f"/api/models/{MODEL}/commit/")
    assert [r.path.rsplit("/", 1)[-1] for r in commits] == ["candidate-1", "main", "candidate-2", "main"]
    repo = hub_server.repos[MODEL]
    main = repo.commits[repo.branches["main"]]
    parent = repo.commits[main.parent]  # type: ignore[index]
    # The commit before v2 on main is v1 whole: no state in between with old weights and a new card.
    assert parent.files["model.safetensors"] == b"weights-1" and "tokenizer.json" in parent.files
    assert main.files["model.safetensors"] == b"weights-2" and "tokenizer.json" not in main.files


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("training_args.bin", b"\x80\x04pickle", "training_args.bin is a pickle"),
        ("taxbot_phase.json", b'{"start_model": "/runner/work/base"}', "taxbot_phase.json names the runner's path"),
    ],
)
def test_pickles_and_runner_paths_are_refused_before_anything_is_sent(
    hub_server: FakeHub, tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    folder = release_folder(tmp_path / "r", "v1")
    (folder / name).write_bytes(content)
    with pytest.raises(HubError, match=f"refusing to publish .*: {problem}"):
        publish(api(hub_server), MODEL, folder, "c", "v1", "m", lambda _: None, private=["/runner/work"])
    assert not hub_server.requests
