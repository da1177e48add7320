"""Shared test guards: loopback only, no writes to the home directory or a model cache."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest

pytest_plugins = ["tests.fakes.fixtures"]

REPO_ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the checkout; TAXBOT_SHARED_DATA names it where the checkout is elsewhere (a worktree).
SHARED_DATA = Path(os.environ.get("TAXBOT_SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _is_loopback(address: object) -> bool:
    if not isinstance(address, tuple):  # AF_UNIX paths stay on this machine
        return True
    host = str(address[0])
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: object) -> None:
    if not _is_loopback(address):
        raise RuntimeError(f"test tried to reach {address!r}: tests may only use 127.0.0.1")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if not _is_loopback(address):
        raise RuntimeError(f"test tried to reach {address!r}: tests may only use 127.0.0.1")
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True)
def loopback_only_and_no_home(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Refuse sockets outside loopback; point HOME and model caches at a throwaway folder."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("HF_HOME", str(home / ".cache" / "huggingface"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file")  # git subprocesses too: no http, ssh or git:// fetches
    monkeypatch.setenv("GIT_AUTHOR_NAME", "taxbot tests")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "tests@taxbot.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "taxbot tests")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "tests@taxbot.invalid")
    for name in ("GITHUB_ACTIONS", "GITHUB_WORKFLOW", "GITHUB_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def shared_data() -> Path:
    """The real community data in ../shared/data; the test skips cleanly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for running `python -m bot` from the source tree in a subprocess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def terminated_at(command: list[str], marker: str, timeout: float) -> tuple[int, str]:
    """Run `command`, send it SIGTERM when its stderr prints a line holding `marker` (as a runner pre-empting a
    job would), and return its exit code and all it wrote to stderr."""
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=subprocess_env())
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if marker in line:
            process.send_signal(signal.SIGTERM)
            break
    log = "".join(seen) + process.communicate(timeout=timeout)[1]
    return process.returncode, log


def write_tree(root: Path, files: dict[str, str | bytes]) -> None:
    """Write `files` (taxonomy-relative path -> text or bytes) under `root`."""
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")


@pytest.fixture
def taxonomy_repo(tmp_path: Path):
    """A real git repository in a temp folder, with a helper to commit a set of file changes."""
    import git

    root = tmp_path / "taxonomy"
    root.mkdir()
    repo = git.Repo.init(root, initial_branch="main")

    def commit(files: dict[str, str | bytes | None], message: str = "change") -> str:
        for rel, content in files.items():
            if content is None:
                repo.index.remove([rel], working_tree=True)
            else:
                write_tree(root, {rel: content})
                repo.index.add([rel])
        return repo.index.commit(message).hexsha

    repo.commit_files = commit  # type: ignore[attr-defined]
    return repo
