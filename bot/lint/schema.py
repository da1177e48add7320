"""JSON schema checks of a leaf against instructlab-schema's own schema files, versions 1-3."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping

import jsonschema
from instructlab.schema import schema_base, schema_versions
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource
from referencing.jsonschema import DRAFT202012

from bot.taxonomy.findings import Finding, Severity
from bot.taxonomy.yamldoc import YamlDoc

SCHEMA_FOLDERS = ("compositional_skills", "knowledge")


def known_versions() -> list[int]:
    return [int(v.name[1:]) for v in schema_versions()]


@functools.cache
def _resource(version: int, name: str) -> Resource:
    path = schema_base().joinpath(f"v{version}", name)
    try:
        return Resource.from_contents(json.loads(path.read_text(encoding="utf-8")), DRAFT202012)
    except (OSError, ValueError) as error:
        raise NoSuchResource(str(path)) from error


@functools.cache
def compiled_validator(version: int, schema_name: str) -> Validator | str:
    """A compiled validator, or the deprecation message when that schema version is retired."""
    resource = _resource(version, f"{schema_name}.json")
    schema = resource.contents
    if isinstance(schema, Mapping) and schema.get("deprecated"):
        return str(schema.get("description") or f"{schema_name} schema version {version} is deprecated")
    # Register the version's shared files up front: a registry that retrieves lazily hands its finds
    # to a throwaway copy, and jsonschema would fetch `./version.json` again for every document.
    registry: Registry = Registry(retrieve=lambda uri: _resource(version, uri))  # type: ignore[call-arg]
    shared = [entry.name for entry in schema_base().joinpath(f"v{version}").iterdir() if entry.name.endswith(".json")]
    registry = registry.with_resources((f"./{name}", _resource(version, name)) for name in shared).crawl()
    return validator_for(schema)(schema, registry=registry)


def schema_name_for(taxonomy_path: str, data: Mapping[object, object]) -> str:
    """Which schema a leaf is checked against: its top folder, else guessed the reference's way."""
    top = taxonomy_path.split("/", 1)[0]
    if top in SCHEMA_FOLDERS:
        return top
    return "knowledge" if "document" in data else "compositional_skills"


def check_schema(path: str, version: int, doc: YamlDoc) -> list[Finding]:
    """Every schema problem of the document, each at the line and column of the offending value."""
    data = doc.value if isinstance(doc.value, Mapping) else {}
    schema_name = schema_name_for(path, data)
    try:
        validator = compiled_validator(version, schema_name)
    except NoSuchResource:
        known = ", ".join(str(v) for v in known_versions())
        return [
            _finding(path, (1, 1), "unknown-version", f"schema version {version} does not exist; use one of {known}")
        ]
    if isinstance(validator, str):
        line, col = doc.position(("version",))
        return [_finding(path, (line, col), "deprecated-version", validator)]
    findings = []
    for error in validator.iter_errors(doc.value):
        where = tuple(error.absolute_path)
        findings.append(_finding(path, _where(doc, where, error), _rule(error), _describe(where, error)))
    return findings


def _finding(path: str, position: tuple[int, int], rule: str, message: str) -> Finding:
    return Finding(path, position[0], position[1], Severity.ERROR, f"schema/{rule}", message)


def _rule(error: jsonschema.ValidationError) -> str:
    return str(error.validator)


def _unexpected_keys(error: jsonschema.ValidationError) -> list[str]:
    """The keys jsonschema names in "('a', 'b' were unexpected)"; the schema's own list misses $ref'd keys."""
    inside = error.message[error.message.rfind("(") :]
    return re.findall(r"'((?:[^'\\]|\\.)*)'", inside)


def _where(doc: YamlDoc, where: tuple[object, ...], error: jsonschema.ValidationError) -> tuple[int, int]:
    if error.validator in ("unevaluatedProperties", "additionalProperties") and (keys := _unexpected_keys(error)):
        return doc.key_position((*where, keys[0]))  # type: ignore[arg-type]
    return doc.position(where)  # type: ignore[arg-type]


def _label(where: tuple[object, ...]) -> str:
    if not where:
        return "the file"
    text = ""
    for part in where:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"`{text}`"


def _describe(where: tuple[object, ...], error: jsonschema.ValidationError) -> str:
    """A message a contributor can act on, naming the key and what to do."""
    label = _label(where)
    value = error.validator_value
    match error.validator:
        case "required":
            missing = error.message.split("'")[1] if "'" in error.message else error.message
            return f"{label} is missing the required key `{missing}`"
        case "minItems":
            found = len(error.instance) if isinstance(error.instance, list) else 0
            return f"{label} needs at least {value} items, found {found}"
        case "minLength":
            return f"{label} must not be empty"
        case "type":
            return f"{label} must be of type {value}, found {type(error.instance).__name__} {error.instance!r:.60}"
        case "uniqueItems":
            return f"{label} holds the same item twice; remove the copy"
        case "unevaluatedProperties" | "additionalProperties":
            keys = ", ".join(f"`{k}`" for k in _unexpected_keys(error))
            return f"{label} has unexpected key(s) {keys}; check the spelling, or remove them"
        case "const":
            return f"{label} must be {value!r}, found {error.instance!r}"
    return f"{label}: {error.message[-200:]}"
