"""The fake GitHub and taxbot held to GitHub's own descriptions (../shared/data): every route the fake serves
is one of GitHub's REST operations, and the GraphQL taxbot sends and the fake answers is GitHub's schema.
(Every request and answer of every test is checked by the `github_server` fixture itself.)"""

from __future__ import annotations

import gzip
import re
from functools import cache

import pytest
from graphql import GraphQLNamedType, GraphQLSchema, build_schema, parse, validate

from bot.github.publish import RESOLVE_MUTATION, THREADS_QUERY
from tests.fakes.github_described import GRAPHQL_SCHEMA, description, normalise_template
from tests.fakes.github_graphql import schema as fake_schema
from tests.fakes.github_server import FakeGitHub

pytestmark = pytest.mark.shared_data


@cache
def github_schema() -> GraphQLSchema:
    if not GRAPHQL_SCHEMA.is_file():
        pytest.skip(f"{GRAPHQL_SCHEMA} is absent")
    with gzip.open(GRAPHQL_SCHEMA, "rt", encoding="utf-8") as handle:
        # GitHub's SDL defines two fields of EnterpriseOwnerInfo twice and deprecates some interface fields in
        # one implementation only; graphql-core refuses such a schema unless told to take it as it is.
        return build_schema(handle.read(), assume_valid_sdl=True, assume_valid=True)


def fake_routes() -> list[tuple[str, str]]:
    """(method, template) of every route the fake serves, its named groups written as `{}`."""
    with FakeGitHub() as fake:
        routes = fake._routes
    return [(method, re.sub(r"\(\?P<\w+>[^)]*\)", "{}", pattern.pattern).strip("^$").replace("\\", ""))
            for method, pattern, _ in routes]  # fmt: skip


def test_every_route_of_the_fake_is_an_operation_github_has() -> None:
    doc = description()
    if doc is None:
        pytest.skip("GitHub's OpenAPI description is absent")
    github = {(method.upper(), normalise_template(path)) for path, item in doc["paths"].items() for method in item}
    missing = [f"{method} {path}" for method, path in fake_routes() if (method, path) not in github]
    assert missing == []


@pytest.mark.parametrize("document", [THREADS_QUERY, RESOLVE_MUTATION], ids=["threads", "resolve"])
def test_taxbots_graphql_is_valid_against_githubs_schema(document: str) -> None:
    assert [error.message for error in validate(github_schema(), parse(document))] == []


def test_the_fakes_graphql_schema_is_githubs_own_in_part() -> None:
    real = github_schema()
    problems = []
    for name, fake_type in fake_schema().type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Boolean", "ID", "Float"):
            continue
        real_type: GraphQLNamedType | None = real.type_map.get(name)
        if real_type is None:
            problems.append(f"{name}: not in GitHub's schema")
            continue
        for field_name, field in getattr(fake_type, "fields", {}).items():
            real_field = real_type.fields.get(field_name)  # type: ignore[union-attr]
            if real_field is None or str(real_field.type) != str(field.type):
                problems.append(f"{name}.{field_name}: {field.type} here, {real_field and real_field.type} at GitHub")
                continue
            for arg_name, arg in getattr(field, "args", {}).items():
                real_arg = real_field.args.get(arg_name)
                if real_arg is None or str(real_arg.type) != str(arg.type):
                    problems.append(f"{name}.{field_name}({arg_name}): {arg.type} here")
    assert problems == []
