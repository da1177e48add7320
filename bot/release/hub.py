"""The Hugging Face Hub edge: what the last release on `main` was, its files, and publishing a new release."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from huggingface_hub import HfApi
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


def publish(
    api: HfApi, repo_id: str, folder: Path, branch: str, tag: str, message: str, log: Callable[[str], None]
) -> Published:
    """Upload `folder` to a candidate branch, promote the same files to `main`, and tag that commit.

    Safe to rerun: files already on a branch are not committed again, and an existing tag is accepted only
    where it already points at `main`'s new commit.
    """
    with _hub(api, f"publish {tag} to {repo_id}", repo_id):
        api.create_repo(repo_id, exist_ok=True)
        api.create_branch(repo_id, branch=branch, exist_ok=True)
        # delete_patterns="*": each branch holds exactly this release's files, nothing left from an earlier one.
        candidate = api.upload_folder(repo_id=repo_id, folder_path=folder, revision=branch,
                                      commit_message=message, delete_patterns="*")  # fmt: skip
        log(f"hub: {repo_id}@{branch} is {candidate.oid}")
        main = api.upload_folder(repo_id=repo_id, folder_path=folder, revision="main",
                                 commit_message=f"{message} (promoted from {branch})", delete_patterns="*")  # fmt: skip
        log(f"hub: {repo_id}@main is {main.oid}")
        api.create_tag(repo_id, tag=tag, revision=main.oid, tag_message=message, exist_ok=True)
        tagged = next((t.target_commit for t in api.list_repo_refs(repo_id).tags if t.name == tag), None)
    if tagged != main.oid:
        raise HubError(
            f"tag {tag} on {repo_id} points at {tagged}, not at the new main commit {main.oid}: a release of "
            "this taxonomy commit was made before; delete that tag on the Hub to publish again"
        )
    return Published(candidate.oid, main.oid, tag)
