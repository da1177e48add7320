"""A stateful fake of the Hugging Face Hub's HTTP API: enough for huggingface_hub to release a model and fetch it.

It serves what `HfApi` calls for create_repo, create_branch, upload_folder (validate-yaml, preupload, the
ndjson commit), create_tag, list_repo_refs, repo_info, list_repo_tree and file downloads (HEAD and GET on
`/{repo}/resolve/{revision}/{path}`). Preupload answers `regular` for every file, so weights travel inline in
the commit rather than through LFS or Xet storage, which the fake does not have; keep test models small.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

import yaml

from tests.fakes.serving import Fault, LoopbackServer, ReceivedRequest, Reply, route_matcher

GITATTRIBUTES = (".gitattributes", b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
KNOWN_LICENCES = ("apache-2.0", "mit", "cc-by-4.0", "cc-by-sa-4.0", "cc0-1.0", "cdla-permissive-2.0", "other")
_REPO = r"(?P<repo>[^/]+/[^/]+)"


def git_blob_oid(content: bytes) -> str:
    """The git blob id of a file, which the Hub reports as a regular file's oid."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class HubCommit:
    oid: str
    parent: str | None
    message: str
    files: dict[str, bytes]


@dataclass
class HubRepo:
    """One model repository: commits by oid, and the branches and tags pointing at them."""

    repo_id: str
    commits: dict[str, HubCommit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    tag_messages: dict[str, str] = field(default_factory=dict)

    def resolve(self, revision: str) -> HubCommit | None:
        oid = self.branches.get(revision) or self.tags.get(revision) or revision
        return self.commits.get(oid)

    def commit(self, branch: str, message: str, files: dict[str, bytes]) -> HubCommit:
        parent = self.branches.get(branch)
        blob = json.dumps([parent, message, sorted((p, git_blob_oid(c)) for p, c in files.items())])
        oid = hashlib.sha1(blob.encode()).hexdigest()
        self.commits[oid] = HubCommit(oid, parent, message, dict(files))
        self.branches[branch] = oid
        return self.commits[oid]


def _error(status: int, message: str, code: str | None = None) -> Reply:
    headers = {"X-Error-Message": message} | ({"X-Error-Code": code} if code else {})
    return Reply(status, {"error": message}, headers)


class _Stop(Exception):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply


class FakeHub:
    """The Hub at `url`; `repos` holds everything. Writes need `Authorization: Bearer <token>`."""

    def __init__(self, *, token: str = "hf_fake_write_token") -> None:
        self.token = token
        self.repos: dict[str, HubRepo] = {}
        self._lock = threading.Lock()
        self._server = LoopbackServer(self._handle)
        self._routes: list[tuple[str, re.Pattern[str], Callable[[ReceivedRequest, dict[str, str]], Reply]]] = []
        r = self._route
        r("POST", "/api/repos/create", self._create_repo)
        r("POST", "/api/validate-yaml", self._validate_yaml)
        r("GET", f"/api/models/{_REPO}/refs", self._refs)
        r("GET", f"/api/models/{_REPO}", lambda req, p: self._info(p["repo"], "main"))
        r("GET", f"/api/models/{_REPO}/revision/(?P<rev>[^/]+)", lambda req, p: self._info(p["repo"], p["rev"]))
        r("GET", f"/api/models/{_REPO}/tree/(?P<rev>[^/]+)(?:/(?P<path>.+))?", self._tree)
        r("POST", f"/api/models/{_REPO}/preupload/(?P<rev>[^/]+)", self._preupload)
        r("POST", f"/api/models/{_REPO}/commit/(?P<rev>[^/]+)", self._commit)
        r("POST", f"/api/models/{_REPO}/branch/(?P<branch>[^/]+)", self._create_branch)
        r("POST", f"/api/models/{_REPO}/tag/(?P<rev>[^/]+)", self._create_tag)
        for method in ("GET", "HEAD"):
            r(method, f"/{_REPO}/resolve/(?P<rev>[^/]+)/(?P<path>.+)", self._resolve)

    @property
    def url(self) -> str:
        return self._server.origin

    @property
    def requests(self) -> list[ReceivedRequest]:
        return self._server.requests

    def calls(self, method: str, path: str) -> list[ReceivedRequest]:
        """The requests with this method whose path matches the regex `path` (searched)."""
        matches = route_matcher(method, path)
        return [r for r in self.requests if matches(r)]

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        """The files of a repository at a branch, tag or commit."""
        commit = self.repos[repo_id].resolve(revision)
        if commit is None:
            raise KeyError(f"{repo_id} has no revision {revision}")
        return commit.files

    def fail(self, times: int = 1, *, status: int = 500, method: str | None = None, path: str | None = None) -> None:
        """Answer `status` to the next `times` matching requests, as the Hub does on a bad day."""
        reply = _error(status, "Internal Error - We're working hard to fix this as soon as possible!")
        self._server.add_fault(Fault(route_matcher(method, path), times, reply=lambda _: reply))

    def __enter__(self) -> Self:
        self._server.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.stop()

    def _route(self, method: str, pattern: str, handler: Callable[[ReceivedRequest, dict[str, str]], Reply]) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    def _handle(self, request: ReceivedRequest) -> Reply:
        with self._lock:  # handlers change plain dicts: one request at a time
            for method, pattern, handler in self._routes:
                match = pattern.match(request.path)
                if match and method == request.method:
                    params = {k: urllib.parse.unquote(v) for k, v in match.groupdict().items() if v is not None}
                    try:
                        if method not in ("GET", "HEAD") and request.path != "/api/validate-yaml":
                            self._check_token(request)
                        return handler(request, params)
                    except _Stop as stop:
                        return stop.reply
        return _error(404, f"no route for {request.method} {request.path}")

    def _check_token(self, request: ReceivedRequest) -> None:
        given = request.headers.get("authorization", "")
        if not given:
            raise _Stop(_error(401, "You must be authenticated to access this resource"))
        if given != f"Bearer {self.token}":
            raise _Stop(_error(401, "Invalid credentials in Authorization header"))

    def _repo(self, repo_id: str) -> HubRepo:
        repo = self.repos.get(repo_id)
        if repo is None:
            raise _Stop(_error(404, "Repository not found", "RepoNotFound"))
        return repo

    def _revision(self, repo: HubRepo, revision: str) -> HubCommit:
        commit = repo.resolve(revision)
        if commit is None:
            raise _Stop(_error(404, f"Invalid rev id: {revision}", "RevisionNotFound"))
        return commit

    def _create_repo(self, request: ReceivedRequest, _: dict[str, str]) -> Reply:
        data = request.json()
        if data.get("type", "model") != "model":
            return _error(400, "the fake Hub holds model repositories only")
        repo_id = f"{data['organization']}/{data['name']}" if data.get("organization") else str(data.get("name"))
        if repo_id in self.repos:  # huggingface_hub reads the url from the 409 too, with exist_ok
            message = "You already created this model repo"
            return Reply(409, {"error": message, "url": f"{self.url}/{repo_id}"}, {"X-Error-Message": message})
        repo = self.repos[repo_id] = HubRepo(repo_id)
        # The Hub starts every repository with one commit holding a .gitattributes.
        repo.commit("main", "initial commit", dict([GITATTRIBUTES]))
        return Reply(200, {"url": f"{self.url}/{repo_id}", "name": repo_id, "id": repo_id})

    def _validate_yaml(self, request: ReceivedRequest, _: dict[str, str]) -> Reply:
        content = str(request.json().get("content", ""))
        errors: list[dict[str, str]] = []
        if content.startswith("---\n"):
            try:
                metadata = yaml.safe_load(content[4:].split("\n---", 1)[0])
            except yaml.YAMLError as error:
                metadata, errors = None, [{"message": f"invalid YAML: {error}"}]
            if not errors and not isinstance(metadata, dict):
                errors.append({"message": "metadata must be a mapping"})
            elif isinstance(metadata, dict) and metadata.get("license") not in (None, *KNOWN_LICENCES):
                errors.append({"message": f'"license" must be one of [{", ".join(KNOWN_LICENCES)}, ...]'})
        return Reply(400 if errors else 200, {"errors": errors, "warnings": []})

    def _refs(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p["repo"])

        def refs(kind: str, names: dict[str, str]) -> list[dict[str, str]]:
            return [{"name": n, "ref": f"refs/{kind}/{n}", "targetCommit": oid} for n, oid in sorted(names.items())]

        return Reply(200, {"branches": refs("heads", repo.branches), "converts": [], "tags": refs("tags", repo.tags)})

    def _info(self, repo_id: str, revision: str) -> Reply:
        repo = self._repo(repo_id)
        commit = self._revision(repo, revision)
        siblings = [{"rfilename": path} for path in sorted(commit.files)]
        return Reply(200, {"id": repo_id, "modelId": repo_id, "sha": commit.oid, "private": False,
                           "siblings": siblings, "tags": []})  # fmt: skip

    def _tree(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        commit = self._revision(self._repo(p["repo"]), p["rev"])
        prefix = p["path"].strip("/") + "/" if p.get("path") else ""
        entries = [
            {"type": "file", "oid": git_blob_oid(content), "size": len(content), "path": path}
            for path, content in sorted(commit.files.items())
            if path.startswith(prefix)
        ]
        return Reply(200, entries)

    def _preupload(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        commit = self._revision(self._repo(p["repo"]), p["rev"])
        files = []
        for item in request.json().get("files", []):
            existing = commit.files.get(item["path"])
            files.append({"path": item["path"], "uploadMode": "regular", "shouldIgnore": False,
                          "oid": git_blob_oid(existing) if existing is not None else None})  # fmt: skip
        return Reply(200, {"files": files, "commitOid": commit.oid})

    def _commit(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p["repo"])
        branch = p["rev"]
        if branch not in repo.branches:
            return _error(404, f"Invalid rev id: {branch} (commits go to a branch)", "RevisionNotFound")
        raw = request.body
        lines = [raw] if isinstance(raw, dict) else [json.loads(line) for line in str(raw).splitlines() if line]
        header = lines[0]["value"] if lines and lines[0].get("key") == "header" else None
        if header is None:
            return _error(400, "the first ndjson line must be the header")
        parent = header.get("parentCommit")
        if parent is not None and parent != repo.branches[branch]:
            return _error(412, f"parentCommit {parent} is not the head of {branch}")
        files = dict(repo.commits[repo.branches[branch]].files)
        for line in lines[1:]:
            key, value = line.get("key"), line.get("value", {})
            if key == "file":
                files[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                if files.pop(value["path"], None) is None:
                    return _error(404, "A file with this name doesn't exist", "EntryNotFound")
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                files = {path: c for path, c in files.items() if not path.startswith(folder)}
            else:
                return _error(422, f"the fake Hub takes regular files only, not {key!r}")
        message = header.get("summary", "")
        commit = repo.commit(branch, message, files)
        url = f"{self.url}/{repo.repo_id}/commit/{commit.oid}"
        return Reply(200, {"commitUrl": url, "commitOid": commit.oid, "success": True, "pullRequestUrl": None})

    def _create_branch(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p["repo"])
        if p["branch"] in repo.branches:
            return _error(409, f"Reference already exists: refs/heads/{p['branch']}")
        start = self._revision(repo, str(request.json().get("startingPoint") or "main"))
        repo.branches[p["branch"]] = start.oid
        return Reply(200, {})

    def _create_tag(self, request: ReceivedRequest, p: dict[str, str]) -> Reply:
        repo = self._repo(p["repo"])
        commit = self._revision(repo, p["rev"])
        tag = str(request.json().get("tag", ""))
        if tag in repo.tags:
            return _error(409, f"Reference already exists: refs/tags/{tag}")
        repo.tags[tag] = commit.oid
        repo.tag_messages[tag] = str(request.json().get("message") or "")
        return Reply(200, {})

    def _resolve(self, _: ReceivedRequest, p: dict[str, str]) -> Reply:
        commit = self._revision(self._repo(p["repo"]), p["rev"])
        content = commit.files.get(p["path"])
        if content is None:
            headers = {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit.oid}
            return Reply(404, {"error": "Entry not found"}, headers)
        headers = {"X-Repo-Commit": commit.oid, "ETag": f'"{git_blob_oid(content)}"'}
        return Reply(200, headers=headers, data=content, content_type="application/octet-stream")
