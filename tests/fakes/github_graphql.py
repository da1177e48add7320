"""The fake GitHub's GraphQL: the subset of GitHub's schema in github_graphql.graphql, executed by graphql-core
over the fake's state (review threads of a pull request, and resolving them)."""

from __future__ import annotations

import base64
from functools import cache
from pathlib import Path
from typing import Any

from graphql import GraphQLSchema, build_schema, graphql_sync

from tests.fakes.github_state import GitHubState, PullRequest, Repository, ReviewComment

SCHEMA_FILE = Path(__file__).with_name("github_graphql.graphql")


@cache
def schema() -> GraphQLSchema:
    return build_schema(SCHEMA_FILE.read_text(encoding="utf-8"))


def thread_id(comment: ReviewComment) -> str:
    return "PRRT_" + base64.urlsafe_b64encode(str(comment.id).encode()).decode().rstrip("=")


def _page(items: list[Any], first: int | None, after: str | None) -> dict[str, Any]:
    start = int(after) if after else 0
    end = start + (first if first is not None else 100)
    chunk = items[start:end]
    return {
        "nodes": chunk,
        "totalCount": len(items),
        "pageInfo": {
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": str(start) if chunk else None,
            "endCursor": str(start + len(chunk)) if chunk else None,
        },
    }


def _comment(comment: ReviewComment) -> dict[str, Any]:
    return {"id": f"PRRC_{comment.id}", "fullDatabaseId": str(comment.id), "body": comment.body}


def _threads(repo: Repository, pull: PullRequest) -> list[dict[str, Any]]:
    comments = sorted((c for c in repo.review_comments.values() if c.pull_number == pull.number), key=lambda c: c.id)
    threads = []
    for root in (c for c in comments if c.in_reply_to_id is None):
        replies = [root, *(c for c in comments if c.in_reply_to_id == root.id)]
        threads.append({
            "id": thread_id(root),
            "isResolved": root.resolved,
            "isOutdated": False,
            "path": root.path,
            "comments": lambda _info, first=None, after=None, replies=replies, **_: _page(
                [_comment(c) for c in replies], first, after
            ),
        })  # fmt: skip
    return threads


def execute(state: GitHubState, query: str, variables: dict[str, Any] | None) -> dict[str, Any]:
    """What GitHub answers to a GraphQL request: `data`, and `errors` when the query is not valid."""

    def repository(_info: Any, owner: str, name: str, **_: Any) -> dict[str, Any] | None:
        repo = state.repos.get(f"{owner}/{name}")
        if repo is None:
            return None

        def pull_request(_info: Any, number: int) -> dict[str, Any] | None:
            pull = repo.pulls.get(number)
            if pull is None:
                return None
            return {
                "id": f"PR_{pull.number}",
                "number": pull.number,
                "reviewThreads": lambda _info, first=None, after=None, **_: _page(_threads(repo, pull), first, after),
            }

        return {"id": f"R_{repo.full_name}", "nameWithOwner": repo.full_name, "pullRequest": pull_request}

    def resolve_review_thread(_info: Any, input: dict[str, Any]) -> dict[str, Any]:
        for repo in state.repos.values():
            for comment in repo.review_comments.values():
                if comment.in_reply_to_id is None and thread_id(comment) == input["threadId"]:
                    comment.resolved = True
                    pull = repo.pulls[comment.pull_number]
                    [thread] = [t for t in _threads(repo, pull) if t["id"] == input["threadId"]]
                    return {"clientMutationId": input.get("clientMutationId"), "thread": thread}
        raise LookupError(f"Could not resolve to a node with the global id of '{input['threadId']}'")

    root = {"repository": repository, "resolveReviewThread": resolve_review_thread}
    result = graphql_sync(schema(), query, root_value=root, variable_values=variables)
    answer: dict[str, Any] = {"data": result.data}
    if result.errors:
        answer["errors"] = [{"message": e.message, "type": "NOT_FOUND" if "resolve to a node" in e.message
                             else "INVALID"} for e in result.errors]  # fmt: skip
    return answer
