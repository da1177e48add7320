"""The Hugging Face Hub edge: what the last release on `main` was, its files, and publishing a new release."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
from huggingface_hub.errors import (
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
)

RELEASE_FILE = "taxbot_release.json"


class HubError(Exception):
    """The Hub refused or failed an action; the message says what to check."""


@dataclass(frozen=True)
class PreviousRelease:
    """The release `main` holds: its commit on the Hub, and the taxonomy commit and tag it was made from."""

    revision: str
    taxonomy_commit: str
    tag: str


@dataclass(frozen=True)
class Published:
    candidate_commit: str
    main_commit: str
    tag: str


@contextmanager
def _hub(api: HfApi, action: str, repo_id: str) -> Iterator[None]:
    try:
        yield
    except OfflineModeIsEnabled as error:
        raise HubError(f"cannot {action}: HF_HUB_OFFLINE is set; unset it to release") from error
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        if status in (401, 403):
            raise HubError(
                f"the Hub refused to {action} ({status}): check that HF_TOKEN is a write token for {repo_id}"
            ) from error
        raise HubError(f"the Hub failed to {action} ({status}): {error.server_message or error}") from error
    except httpx2.HTTPError as error:
        raise HubError(f"cannot reach the Hub at {api.endpoint} to {action}: {error}") from error


def previous_release(api: HfApi, repo_id: str, scratch: Path) -> PreviousRelease | None:
    """The release on `main`, or None before the first one (no repository, or no release file on main)."""
    with _hub(api, "read the previous release", repo_id):
        try:
            refs = api.list_repo_refs(repo_id)
        except RepositoryNotFoundError:
            return None
        main = next((branch.target_commit for branch in refs.branches if branch.name == "main"), None)
        if main is None:
            return None
        try:
            path = api.hf_hub_download(repo_id, RELEASE_FILE, revision=main, local_dir=scratch)
        except RemoteEntryNotFoundError:
            return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return PreviousRelease(main, str(data["taxonomy_commit"]), str(data["tag"]))
    except (ValueError, KeyError, TypeError) as error:
        raise HubError(f"{RELEASE_FILE} on main of {repo_id} is not a taxbot release record ({error})") from error


def download(api: HfApi, repo_id: str, revision: str, destination: Path) -> Path:
    """Every file of the repository at `revision`, into `destination`."""
    with _hub(api, f"download {repo_id} at {revision}", repo_id):
        return Path(api.snapshot_download(repo_id, revision=revision, local_dir=destination))


# Pickles run code when loaded: a release publishes safetensors weights and plain files only.
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt")
_TEXT_SUFFIXES = (".json", ".md", ".jinja", ".txt", ".yaml", ".yml", ".model")


def is_pickle(name: str) -> bool:
    return name.endswith(PICKLE_SUFFIXES)


def leaked_paths(folder: Path, private: Sequence[str]) -> list[str]:
    """Files of `folder` that are pickles, or text files naming one of the runner's `private` paths."""
    problems = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        if is_pickle(name):
            problems.append(f"{name} is a pickle")
        elif name.endswith(_TEXT_SUFFIXES):
            text = path.read_text(encoding="utf-8", errors="replace")
            problems += [f"{name} names the runner's path {p}" for p in private if p and p in text]
    return problems


def _commit_folder(api: HfApi, repo_id: str, folder: Path, branch: str, message: str) -> str:
    """Every file of `folder` in one commit on `branch`, and every other file there deleted: a reader of the
    branch sees the old release or the new one, never half of one. Unchanged files are not sent again."""
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    operations: list[CommitOperationAdd | CommitOperationDelete] = [
        CommitOperationAdd(path_in_repo=name, path_or_fileobj=folder / name) for name in files
    ]
    kept = {*files, ".gitattributes"}  # the Hub's own file, which routes weights to large-file storage
    operations += [CommitOperationDelete(path_in_repo=name) for name in api.list_repo_files(repo_id, revision=branch)
                   if name not in kept]  # fmt: skip
    return api.create_commit(repo_id, operations, commit_message=message, revision=branch).oid


def publish(
    api: HfApi,
    repo_id: str,
    folder: Path,
    branch: str,
    tag: str,
    message: str,
    log: Callable[[str], None],
    private: Sequence[str] = (),
) -> Published:
    """Commit `folder` to a candidate branch, the same files to `main`, and tag that commit. Refuses a folder
    holding pickles or naming the runner's `private` paths, before anything is sent.

    Safe to rerun: files already on a branch are not committed again, and an existing tag is accepted only
    where it already points at `main`'s new commit.
    """
    if problems := leaked_paths(folder, private):
        raise HubError(f"refusing to publish {folder}: {'; '.join(problems)}")
    with _hub(api, f"publish {tag} to {repo_id}", repo_id):
        api.create_repo(repo_id, exist_ok=True)
        api.create_branch(repo_id, branch=branch, exist_ok=True)
        candidate = _commit_folder(api, repo_id, folder, branch, message)
        log(f"hub: {repo_id}@{branch} is {candidate}")
        main = _commit_folder(api, repo_id, folder, "main", f"{message} (promoted from {branch})")
        log(f"hub: {repo_id}@main is {main}")
        api.create_tag(repo_id, tag=tag, revision=main, tag_message=message, exist_ok=True)
        tagged = next((t.target_commit for t in api.list_repo_refs(repo_id).tags if t.name == tag), None)
    if tagged != main:
        raise HubError(
            f"tag {tag} on {repo_id} points at {tagged}, not at the new main commit {main}: a release of "
            "this taxonomy commit was made before; delete that tag on the Hub to publish again"
        )
    return Published(candidate, main, tag)
