"""Knowledge documents: fetched from `document.repo` at the exact commit (shallow, cached), PDFs turned into
text, and chunked in the teacher's tokens."""

from __future__ import annotations

import fnmatch
import hashlib
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import git
import pypdf


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
            text = pdf_text(data, item.path) if item.path.lower().endswith(".pdf") else data.decode("utf-8", "replace")
            documents.append(Document(item.path, text))
    if not documents:
        raise DocumentError(f"no file of {url} at {commit[:12]} matches {', '.join(patterns)}")
    return sorted(documents, key=lambda d: d.path)


def pdf_text(data: bytes, name: str) -> str:
    """The text of a PDF document, page by page (pypdf); raises DocumentError for one it cannot read."""
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (pypdf.errors.PyPdfError, ValueError, KeyError, TypeError, OSError) as error:
        raise DocumentError(f"{name}: not a readable PDF ({error})") from error
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    if not text:
        raise DocumentError(f"{name}: the PDF has no text layer (a scan?); convert it to Markdown")
    return text


def _cut(words: list[str], max_tokens: int, count: Callable[[str], int]) -> int:
    """How many of `words` fit in `max_tokens` (at least one)."""
    low, high = 1, len(words)
    while low < high:
        middle = (low + high + 1) // 2
        if count(" ".join(words[:middle])) <= max_tokens:
            low = middle
        else:
            high = middle - 1
    return low


def chunk_text(text: str, max_tokens: int, count: Callable[[str], int]) -> list[str]:
    """Paragraph-aligned chunks of at most `max_tokens` teacher tokens (as `count` measures them), so each
    fits the teacher's context window beside the prompt and the reply."""
    chunks: list[str] = []
    current: list[str] = []
    for paragraph in (p.strip() for p in re.split(r"\n\s*\n", text)):
        if not paragraph:
            continue
        if current and count("\n\n".join([*current, paragraph])) > max_tokens:
            chunks.append("\n\n".join(current))
            current = []
        if count(paragraph) <= max_tokens:
            current.append(paragraph)
            continue
        words = paragraph.split()  # a paragraph too long on its own is cut at word boundaries
        while words:
            take = _cut(words, max_tokens, count)
            piece, words = " ".join(words[:take]), words[take:]
            if words:
                chunks.append(piece)
            else:  # the paragraph's tail may share a chunk with what follows
                current.append(piece)
    if current:
        chunks.append("\n\n".join(current))
    return chunks
