"""The `taxbot` command line: the one place that reads arguments and environment and sets exit codes."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.config import CONFIG_NAME, Config, load_config, parse_config
from bot.diff import ChangeSet, changed_leaves
from bot.findings import Finding, has_errors
from bot.indexcache import IndexCacheError, commit_index, default_cache_dir
from bot.lint import LintCache, LintSettings, Profile, lint_entry
from bot.render import render_github, render_json, render_text
from bot.similar import find_duplicates, similar_settings
from bot.similar_report import SimilarReport
from bot.similar_report import render_json as render_similar_json
from bot.similar_report import render_markdown as render_similar_markdown
from bot.similar_report import render_text as render_similar_text
from bot.taxonomy import (
    TOP_FOLDERS,
    DirectorySource,
    Leaf,
    TaxonomyError,
    TreeSource,
    is_leaf_like,
    open_repo,
    parse_leaf,
)
from bot.yamldoc import YamlDocError

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


class UsageError(Exception):
    """The command was called wrongly; the message says how to call it."""


@dataclass(frozen=True)
class Target:
    """A file to lint: as the user named it, and where it sits in its taxonomy."""

    display: str
    root: Path
    path: str  # taxonomy-relative, posix


def _taxonomy_root(path: Path) -> tuple[Path, str]:
    """The taxonomy folder holding `path`: the parent of its nearest knowledge/ or *_skills/ ancestor."""
    absolute = path.absolute()
    for ancestor in [absolute, *absolute.parents]:
        if ancestor.name in TOP_FOLDERS:
            return ancestor.parent, absolute.relative_to(ancestor.parent).as_posix()
    if path.is_dir():
        return path, "."
    return absolute.parent, absolute.name


def collect_targets(paths: Sequence[str], taxonomy: Path | None) -> list[Target]:
    targets: list[Target] = []
    for given in paths:
        path = Path(given)
        if not path.exists() and not path.is_symlink():
            raise UsageError(f"no such file or folder: {given}")
        if taxonomy is not None:
            try:
                root, rel = taxonomy, path.absolute().relative_to(taxonomy.absolute()).as_posix()
            except ValueError:
                raise UsageError(f"{given} is not inside the taxonomy folder {taxonomy}") from None
        else:
            root, rel = _taxonomy_root(path)
        if path.is_dir() and not path.is_symlink():
            for entry in DirectorySource(path).entries():
                if is_leaf_like(entry.path):
                    inner = entry.path if rel == "." else f"{rel}/{entry.path}"
                    targets.append(Target(os.path.join(given, entry.path), root, inner))
        else:
            targets.append(Target(given, root, rel))
    return targets


def _settings(args: argparse.Namespace, config: Config) -> LintSettings:
    return LintSettings(Profile(args.profile), config.disabled_rules)


def _emit(args: argparse.Namespace, findings: list[Finding], files: int, extra: dict[str, object]) -> None:
    if args.format == "json":
        sys.stdout.write(render_json(findings, extra))
    elif args.format == "github":
        commands, summary = render_github(findings, files)
        sys.stdout.write(commands)
        if step_summary := os.environ.get("GITHUB_STEP_SUMMARY"):
            with open(step_summary, "a", encoding="utf-8") as handle:
                handle.write(summary)
    else:
        sys.stdout.write(render_text(findings, files))


def cmd_lint(args: argparse.Namespace) -> int:
    taxonomy = Path(args.taxonomy) if args.taxonomy else None
    targets = collect_targets(args.paths, taxonomy)
    if not targets:
        print(f"taxbot: no qna.yaml files under {', '.join(args.paths)}", file=sys.stderr)
    findings: list[Finding] = []
    sources: dict[Path, tuple[TreeSource, LintSettings]] = {}
    cache = LintCache()
    for target in targets:
        if target.root not in sources:
            config, problems = load_config(target.root)
            findings += [p.moved_to(str(target.root / CONFIG_NAME)) for p in problems]
            sources[target.root] = (DirectorySource(target.root), _settings(args, config))
        source, settings = sources[target.root]
        entry = source.entry(target.path)
        if entry is None:
            raise UsageError(f"cannot read {target.display}")
        findings += [f.moved_to(target.display) for f in lint_entry(entry, source, settings, cache)]
    _emit(args, findings, len(targets), {})
    return EXIT_FINDINGS if has_errors(findings) else EXIT_CLEAN


def cmd_diff(args: argparse.Namespace) -> int:
    taxonomy = Path(args.taxonomy)
    change_set = changed_leaves(taxonomy, args.base, args.head)
    # The config comes from the base commit: a pull request cannot turn off the rules it is checked by.
    config_entry = change_set.base.entry(CONFIG_NAME)
    config, problems = Config(), []
    if config_entry is not None and not config_entry.is_symlink:
        config, problems = parse_config(config_entry.read().decode("utf-8", errors="replace"))
    settings = _settings(args, config)
    findings = list(problems)
    cache = LintCache()
    for change in change_set.present:
        entry = change_set.head.entry(change.path)
        if entry is not None:
            findings += lint_entry(entry, change_set.head, settings, cache)
    if args.format == "text":
        for change in change_set.changes:
            renamed = f"{change.old_path} -> " if change.old_path else ""
            print(f"{change.status:<9} {renamed}{change.path}")
        if not change_set.changes:
            print("no leaves changed")
    extra = {"changes": [c.to_json() for c in change_set.changes]}
    _emit(args, findings, len(change_set.present), extra)
    return EXIT_FINDINGS if has_errors(findings) else EXIT_CLEAN


def _config_at_base(change_set: ChangeSet) -> tuple[Config, list[Finding]]:
    """The config of the base commit: a pull request cannot change how it is reviewed."""
    entry = change_set.base.entry(CONFIG_NAME)
    if entry is None or entry.is_symlink:
        return Config(), []
    return parse_config(entry.read().decode("utf-8", errors="replace"))


def _changed_leaves_read(change_set: ChangeSet) -> list[Leaf]:
    """The leaves of the change as they are after it; ones that cannot be read are left to `lint`."""
    leaves = []
    for change in change_set.present:
        entry = change_set.head.entry(change.path)
        if entry is None or entry.is_symlink:
            continue
        try:
            leaves.append(parse_leaf(change.path, entry.read()))
        except (YamlDocError, OSError):
            continue
    return leaves


def cmd_similar(args: argparse.Namespace) -> int:
    taxonomy = Path(args.taxonomy)
    change_set = changed_leaves(taxonomy, args.base, args.head)
    config, problems = _config_at_base(change_set)
    settings, more = similar_settings(config.section("similar"))
    repo, prefix = open_repo(taxonomy)
    if args.cache:
        cache = Path(args.cache)
    elif settings.cache:
        cache = taxonomy / settings.cache
    else:
        cache = default_cache_dir(repo)
    try:
        index, stats = commit_index(repo, change_set.base.commit.hexsha, prefix, settings.thresholds, cache)
    except IndexCacheError as error:
        raise UsageError(f"{error} (choose another with --cache)") from error
    excluded = {c.path for c in change_set.changes} | {c.old_path for c in change_set.changes if c.old_path}
    leaves = _changed_leaves_read(change_set)
    report = SimilarReport(find_duplicates(index, leaves, excluded), len(leaves), stats, problems + more)
    render = {"json": render_similar_json, "markdown": render_similar_markdown}.get(args.format, render_similar_text)
    sys.stdout.write(render(report))
    return EXIT_FINDINGS if report.duplicates else EXIT_CLEAN


def _add_output_options(parser: argparse.ArgumentParser, formats: Sequence[str]) -> None:
    parser.add_argument("--format", choices=formats, default="text", help="output format (default: text)")
    parser.add_argument(
        "--profile",
        choices=[p.value for p in Profile],
        default=Profile.STRICT.value,
        help="reference: exactly instructlab-schema's checks; strict (default): also the community's rules",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taxbot", description="Review and release bot for community-grown LLM taxonomies."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lint = commands.add_parser("lint", help="check qna.yaml leaves: schema, YAML style, community rules")
    lint.add_argument("paths", nargs="+", metavar="PATH", help="qna.yaml files or folders to search for them")
    lint.add_argument("--taxonomy", metavar="DIR", help="the taxonomy root (default: found from each path)")
    _add_output_options(lint, ("text", "github", "json"))
    lint.set_defaults(handler=cmd_lint)

    diff = commands.add_parser("diff", help="the leaves a change adds, modifies, renames or deletes, linted")
    diff.add_argument("--taxonomy", required=True, metavar="DIR", help="the taxonomy (a git work tree)")
    diff.add_argument("--base", required=True, metavar="REF", help="the commit the change starts from")
    diff.add_argument("--head", metavar="REF", help="the commit it ends at (default: the work tree)")
    _add_output_options(diff, ("text", "github", "json"))
    diff.set_defaults(handler=cmd_diff)

    similar = commands.add_parser(
        "similar",
        help="near-duplicate seed questions, answers and contexts of a change, against the tree and itself",
        description="Exits 1 when a seed example, question or answer repeats one elsewhere; shared contexts alone "
        "(one document behind several skills) exit 0.",
    )
    similar.add_argument("--taxonomy", required=True, metavar="DIR", help="the taxonomy (a git work tree)")
    similar.add_argument("--base", required=True, metavar="REF", help="the commit the change starts from")
    similar.add_argument("--head", metavar="REF", help="the commit it ends at (default: the work tree)")
    similar.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="(default: text)")
    similar.add_argument(
        "--cache", metavar="DIR", help="index cache folder (default: `similar.cache` in .taxbot.yaml, else in .git)"
    )
    similar.set_defaults(handler=cmd_similar)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on bad usage and 0 on --help
        return int(exit_.code or 0)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except (UsageError, TaxonomyError) as error:
        print(f"taxbot: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except Exception:  # the one top-level boundary: report, never a silent failure
        print("taxbot: internal error, please report it with this trace:", file=sys.stderr)
        traceback.print_exc()
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
