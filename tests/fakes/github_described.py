"""GitHub's own description of its REST API (../shared/data/github-openapi), to hold the fake GitHub and
taxbot to it: every route the fake serves must be one GitHub has, every request body taxbot sends and every
answer the fake gives must validate against the operation's schemas."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator

from tests.conftest import SHARED_DATA
from tests.fakes.serving import ReceivedRequest, Reply

OPENAPI = SHARED_DATA / "github-openapi" / "api.github.com.json.gz"
GRAPHQL_SCHEMA = SHARED_DATA / "github-graphql" / "schema.graphql.gz"


@dataclass(frozen=True)
class Operation:
    method: str
    template: str  # /repos/{owner}/{repo}/issues/{issue_number}
    spec: dict[str, Any]


@cache
def description() -> dict[str, Any] | None:
    """The OpenAPI document, or None where ../shared/data is absent."""
    if not OPENAPI.is_file():
        return None
    with gzip.open(OPENAPI, "rt", encoding="utf-8") as handle:
        return json.load(handle)


@cache
def _templates() -> list[tuple[re.Pattern[str], str, int]]:
    doc = description() or {"paths": {}}
    out = []
    for template in doc["paths"]:
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        out.append((re.compile(f"^{pattern}$"), template, template.count("{")))
    return sorted(out, key=lambda t: t[2])  # literal segments first: /releases/latest before /releases/{id}


def operation(method: str, path: str) -> Operation | None:
    """GitHub's operation for `method` on a concrete `path` (no /api/v3 prefix), or None if it has none."""
    doc = description()
    if doc is None:
        return None
    for pattern, template, _ in _templates():
        if pattern.match(path):
            spec = doc["paths"][template].get(method.lower())
            if spec is not None:
                return Operation(method.upper(), template, spec)
    return None


def normalise_template(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", template)


def _nullable(node: Any) -> Any:
    """`nullable: true` as JSON Schema says it: null, or the rest. GitHub marks enums and oneOfs nullable
    (`start_side`, a commit's `author`) and sends null there; a validator reading OpenAPI 3.0 to the letter
    refuses null in an enum that does not list it."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _nullable(value) for key, value in node.items()}
    if node.pop("nullable", False):
        return {"anyOf": [{"enum": [None]}, node]}
    return node


@cache
def _components() -> dict[str, Any]:
    return _nullable((description() or {})["components"])


@cache
def _validator(kind: str, pointer: str) -> Any:
    """A validator for the schema at JSON `pointer` in the description, resolving its `#/components` refs."""
    doc = description() or {}
    node: Any = doc
    for part in pointer.split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    root = {"allOf": [_nullable(node)], "components": _components()}
    cls = OAS30WriteValidator if kind == "request" else OAS30ReadValidator
    return cls(root)


def _json_schema_pointer(op: Operation, where: str) -> str | None:
    base = f"paths/{op.template.replace('~', '~0').replace('/', '~1')}/{op.method.lower()}"
    if where == "request":
        body = op.spec.get("requestBody", {}).get("content", {})
        return f"{base}/requestBody/content/application~1json/schema" if "application/json" in body else None
    response = op.spec.get("responses", {}).get(where)
    if response is None:
        return None
    if "$ref" in response:  # a shared response, e.g. #/components/responses/validation_failed
        name = response["$ref"].rsplit("/", 1)[1]
        base, response = f"components/responses/{name}", (description() or {})["components"]["responses"][name]
    else:
        base = f"{base}/responses/{where}"
    return f"{base}/content/application~1json/schema" if "application/json" in response.get("content", {}) else None


def exchange_problems(request: ReceivedRequest, reply: Reply, prefix: str) -> list[str]:
    """What GitHub's description says is wrong with one request (taxbot's) and its answer (the fake's)."""
    if not request.path.startswith(prefix + "/"):
        return []  # GraphQL, checked against its own schema
    path = request.path[len(prefix) :]
    op = operation(request.method, path)
    where = f"{request.method} {path}"
    if op is None:  # the fake answering 404 to what GitHub lacks is right
        return [] if reply.status == 404 else [f"{where}: GitHub has no such operation"]
    problems = []
    # A body GitHub's schema refuses must be refused by the fake too (a test may send one on purpose);
    # one the fake accepted is a fake too lenient, or taxbot sending what GitHub would refuse.
    accepted = reply.status < 400
    body = request.body
    if isinstance(body, list) and op.template.endswith("/labels"):
        # The labels endpoints' text says "You can also pass an array of labels directly" (PyGithub does);
        # their schema only has the object form.
        body = {"labels": body}
    if accepted and body not in (None, "") and (pointer := _json_schema_pointer(op, "request")) is not None:
        for error in _validator("request", pointer).iter_errors(body):
            problems.append(f"{where}: request body: {'/'.join(map(str, error.absolute_path))}: {error.message[:200]}")
    documented = op.spec.get("responses", {})
    status = str(reply.status)
    if status not in documented and reply.status < 300:
        problems.append(f"{where}: GitHub never answers {status} here (it answers {', '.join(documented)})")
    pointer = _json_schema_pointer(op, status)
    if pointer is not None and reply.text is None and reply.data is None:
        for error in _validator("response", pointer).iter_errors(reply.body):
            problems.append(f"{where}: {status} answer: {'/'.join(map(str, error.absolute_path))}: "
                            f"{error.message[:200]}")  # fmt: skip
    return problems
