"""The layout of `bot/`: packages named for their concern, imports pointing one way, no cycles."""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"
BASICS = {"bot.errors", "bot.safetext"}  # import nothing of taxbot's; anything may use them


def _module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every taxbot module `path` imports, lazily inside a function or not."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.split(".")[0] == "bot"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bot":
            for alias in node.names:  # `from bot.lint import rules` imports the module bot.lint.rules
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if _exists(submodule) else node.module)
    return found


def _exists(module: str) -> bool:
    relative = Path(*module.split(".")[1:])
    return (BOT / relative).with_suffix(".py").is_file() or (BOT / relative / "__init__.py").is_file()


def _graph() -> dict[str, set[str]]:
    return {_module_name(path): _imports(path) for path in BOT.rglob("*.py")}


def _owner(module: str) -> str:
    """The package a module belongs to (`bot.lint` for bot.lint.rules), or the top-level module itself."""
    parts = module.split(".")
    return ".".join(parts[:2])


def _allowed(package_dir: Path) -> set[str]:
    docstring = ast.get_docstring(ast.parse((package_dir / "__init__.py").read_text(encoding="utf-8"))) or ""
    match = re.search(r"^May import:(.*)", docstring, re.MULTILINE | re.DOTALL)
    assert match, f"{package_dir.name}/__init__.py does not say which packages it may import ('May import: ...')"
    return {name.strip(" \n.") for name in match.group(1).split(",") if name.strip(" \n.")}


PACKAGES = sorted(p for p in BOT.iterdir() if p.is_dir() and (p / "__init__.py").is_file())


def test_bot_has_at_most_a_dozen_top_level_modules() -> None:
    top = sorted(p.name for p in BOT.glob("*.py"))
    assert len(top) <= 12, top
    assert {"cli.py", "review.py", "__main__.py"} <= set(top)


def test_every_module_lives_in_a_package_with_a_docstring() -> None:
    for path in BOT.rglob("*.py"):
        if path.parent != BOT:
            assert (path.parent / "__init__.py").is_file(), f"{path} is in a folder that is not a package"
        assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), f"{path} has no docstring"


@pytest.mark.parametrize("package", PACKAGES, ids=lambda p: p.name)
def test_a_package_imports_only_what_its_docstring_allows(package: Path) -> None:
    name = f"bot.{package.name}"
    allowed = _allowed(package) | {name}
    assert all(_exists(m) for m in allowed), f"{name} names a package that does not exist: {sorted(allowed)}"
    graph = _graph()
    wrong = {
        f"{module} imports {target}"
        for module, targets in graph.items()
        if _owner(module) == name
        for target in targets
        if _owner(target) not in allowed
    }
    assert not wrong, sorted(wrong)


def test_basics_import_nothing_of_taxbots() -> None:
    graph = _graph()
    assert all(not graph[module] for module in BASICS), {m: graph[m] for m in BASICS}


def test_no_import_cycle_between_modules_or_packages() -> None:
    graph = _graph()
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError, naming the cycle
    packages: dict[str, set[str]] = {}
    for module, targets in graph.items():
        packages.setdefault(_owner(module), set()).update(_owner(t) for t in targets if _owner(t) != _owner(module))
    graphlib.TopologicalSorter(packages).prepare()


def test_tests_mirror_the_packages() -> None:
    tests = Path(__file__).resolve().parent
    for package in PACKAGES:
        modules = {p.stem for p in package.glob("*.py")} - {"__init__"}
        tested = {p.stem.removeprefix("test_") for p in (tests / package.name).glob("test_*.py")}
        assert tested & modules, f"tests/{package.name}/ has no test named for a module of bot/{package.name}/"
        unnamed = tested - modules - {"e2e", "reference_parity"}  # whole-package tests
        assert not unnamed, f"tests/{package.name}/ has tests named for no module: {unnamed}"
