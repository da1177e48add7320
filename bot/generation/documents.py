"""Knowledge documents: fetched from `document.repo` at the exact commit (shallow, cached) and chunked."""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import git


class DocumentError(Exception):
    """The leaf's documents cannot be had; the message says what to fix in `document:`."""


@dataclass(frozen=True)
class Document:
    path: str
    text: str


def _repository(url: str, cache_dir: Path) -> git.Repo:
    folder = cache_dir / "documents" / hashlib.sha256(url.encode()).hexdigest()[:20]
    if (folder / "HEAD").exists():
        return git.Repo(folder)
    repo = git.Repo.init(folder, bare=True)
    repo.create_remote("origin", url)
    return repo


def _has_commit(repo: git.Repo, commit: str) -> bool:
    try:
        repo.commit(commit).tree  # noqa: B018 - reading the tree proves the objects are here
    except (ValueError, git.BadName, git.GitCommandError):
        return False
    return True


def fetch_documents(url: str, commit: str, patterns: list[str], cache_dir: Path) -> list[Document]:
    """The files of `url` at `commit` matching `patterns`, read from a cached shallow fetch."""
    repo = _repository(url, cache_dir)
    if not _has_commit(repo, commit):
        try:
            # Only the one commit, and only the blobs read below (where the server supports filters).
            repo.git.fetch("--depth", "1", "--filter=blob:none", "origin", commit)
        except git.GitCommandError:
            try:  # servers that refuse to fetch a commit by its hash: take the branches instead
                repo.git.fetch("origin", "+refs/heads/*:refs/remotes/origin/*")
            except git.GitCommandError as error:
                raise DocumentError(f"cannot fetch {url}: {error.stderr.strip() or error}") from error
        if not _has_commit(repo, commit):
            raise DocumentError(f"commit {commit} is not in {url}; check `document.commit`")
    documents = []
    for item in repo.commit(commit).tree.traverse():
        if isinstance(item, git.Blob) and any(fnmatch.fnmatch(item.path, p) for p in patterns):
            data = item.data_stream.read()
            documents.append(Document(item.path, data.decode("utf-8", errors="replace")))
    if not documents:
        raise DocumentError(f"no file of {url} at {commit[:12]} matches {', '.join(patterns)}")
    return sorted(documents, key=lambda d: d.path)


def chunk_text(text: str, max_words: int) -> list[str]:
    """Paragraph-aligned chunks of at most `max_words` words, so each fits the teacher's context window."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not paragraph:
            continue
        words = paragraph.split()
        while len(words) > max_words:  # a paragraph too long on its own is cut at word boundaries
            if current:
                chunks.append("\n\n".join(current))
                current, size = [], 0
            chunks.append(" ".join(words[:max_words]))
            words = words[max_words:]
        if size + len(words) > max_words and current:
            chunks.append("\n\n".join(current))
            current, size = [], 0
        if words:
            current.append(paragraph if len(words) == len(paragraph.split()) else " ".join(words))
            size += len(words)
    if current:
        chunks.append("\n\n".join(current))
    return chunks
