"""The `taxbot` command line: the one place that reads arguments and environment and sets exit codes."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.errors import EXIT_CLEAN, EXIT_FINDINGS, EXIT_INTERNAL, EXIT_USAGE, UsageError

# Only what `lint` and `diff` need is imported here: the other commands import their modules when they
# run, so a contributor's `taxbot lint` starts in a fraction of a second instead of loading the
# GitHub, OpenAI and numpy stacks.
from bot.lint.batch import TargetError, collect_targets, lint_targets
from bot.lint.leaf import LintSettings, Profile, lint_changes
from bot.lint.render import render_github, render_json, render_overflow_text, render_text
from bot.taxonomy.config import CONFIG_NAME, Config, config_in, load_config
from bot.taxonomy.diff import changed_leaves
from bot.taxonomy.findings import Finding, has_errors

_COLOURS = {"error": "31", "warning": "33", "changes needed": "1;31", "no errors": "1;32"}
_PAINTED = re.compile(r"(?<=: )(error|warning)(?= \[)|(?<=^taxbot review: )(changes needed|no errors)", re.MULTILINE)


def _paint(text: str) -> str:
    """Severities and the verdict in colour on a terminal; plain when piped or NO_COLOR is set (no-color.org)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb" or not sys.stdout.isatty():
        return text
    return _PAINTED.sub(lambda m: f"\033[{_COLOURS[m.group(0)]}m{m.group(0)}\033[0m", text)


def _version() -> str:
    try:
        return importlib.metadata.version("taxbot")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


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
            sys.stdout.write(render_overflow_text(findings))
    else:
        sys.stdout.write(_paint(render_text(findings, files)))


def cmd_lint(args: argparse.Namespace) -> int:
    taxonomy = Path(args.taxonomy) if args.taxonomy else None
    targets = collect_targets(args.paths, taxonomy)
    if not targets:
        raise TargetError(
            f"no qna.yaml files under {', '.join(args.paths)}: name a taxonomy folder (the one holding "
            "knowledge/ or compositional_skills/) or a qna.yaml file"
        )
    findings = lint_targets(targets, Profile(args.profile), args.jobs)
    for root in dict.fromkeys(t.root for t in targets):
        config, _ = load_config(root)  # its own problems are in `findings` already
        findings += [p.moved_to(str(root / CONFIG_NAME)) for p in _section_problems(config)]
    _emit(args, findings, len(targets), {})
    return EXIT_FINDINGS if has_errors(findings) else EXIT_CLEAN


def _section_problems(config: Config) -> list[Finding]:
    """Problems of the `similar` and `gaps` sections, checked by the commands that read them; `lint` and
    `diff` check them too, so a typo there shows in the pull request that makes it."""
    problems: list[Finding] = []
    if config.section("similar"):
        from bot.similar.duplicates import similar_settings

        problems += similar_settings(config.section("similar"), lines=config.lines("similar"))[1]
    if config.section("gaps"):
        from bot.gaps.coverage import gaps_settings

        problems += gaps_settings(config.section("gaps"), lines=config.lines("gaps"))[1]
    return problems


def cmd_diff(args: argparse.Namespace) -> int:
    taxonomy = Path(args.taxonomy)
    change_set = changed_leaves(taxonomy, args.base, args.head)
    config, problems = config_in(change_set.base)
    settings = _settings(args, config)
    findings = list(problems) + _section_problems(config)
    findings += lint_changes(change_set, settings)
    if args.format == "text":
        for change in change_set.changes:
            renamed = f"{change.old_path} -> " if change.old_path else ""
            print(f"{change.status:<9} {renamed}{change.path}")
        if not change_set.changes:
            print("no leaves changed")
    extra = {"changes": [c.to_json() for c in change_set.changes]}
    _emit(args, findings, len(change_set.present), extra)
    return EXIT_FINDINGS if has_errors(findings) else EXIT_CLEAN


def cmd_similar(args: argparse.Namespace) -> int:
    from bot.review import changed_leaf_objects
    from bot.similar.duplicates import find_duplicates, similar_settings, to_findings
    from bot.similar.indexcache import IndexCacheError, commit_index, default_cache_dir
    from bot.similar.report import SimilarReport
    from bot.similar.report import render_json as render_similar_json
    from bot.similar.report import render_markdown as render_similar_markdown
    from bot.similar.report import render_text as render_similar_text
    from bot.taxonomy.tree import open_repo

    taxonomy = Path(args.taxonomy)
    change_set = changed_leaves(taxonomy, args.base, args.head)
    config, problems = config_in(change_set.base)
    settings, more = similar_settings(config.section("similar"), lines=config.lines("similar"))
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
        raise TargetError(f"{error} (choose another with --cache)") from error
    leaves = list(changed_leaf_objects(change_set).values())
    report = SimilarReport(find_duplicates(index, leaves, change_set.touched), len(leaves), stats, problems + more)
    render = {"json": render_similar_json, "markdown": render_similar_markdown}.get(args.format, render_similar_text)
    sys.stdout.write(render(report))
    # The review's verdict and this exit code come from the same findings: a copied seed fails both.
    return EXIT_FINDINGS if has_errors(to_findings(report.matches)) else EXIT_CLEAN


def cmd_gaps(args: argparse.Namespace) -> int:
    from bot.gaps.coverage import gaps_settings, landings, placed_paths, tree_gaps
    from bot.gaps.precheck import student_precheck
    from bot.gaps.report import GapsReport
    from bot.gaps.report import render_json as render_gaps_json
    from bot.gaps.report import render_markdown as render_gaps_markdown
    from bot.gaps.report import render_text as render_gaps_text
    from bot.review import changed_leaf_objects
    from bot.taxonomy.tree import load_directory, load_taxonomy

    taxonomy_dir = Path(args.taxonomy)
    if args.base is None:
        if args.head is not None:
            raise TargetError("--head needs --base: the change runs from one commit to the other")
        config, problems = load_config(taxonomy_dir)
        settings, more = gaps_settings(config.section("gaps"), lines=config.lines("gaps"))
        tree = load_directory(taxonomy_dir)
        report = GapsReport(tree_gaps(tree, settings.min_examples), args.depth, problems=problems + more)
    else:
        change_set = changed_leaves(taxonomy_dir, args.base, args.head)
        config, problems = config_in(change_set.base)
        settings, more = gaps_settings(config.section("gaps"), lines=config.lines("gaps"))
        tree = load_taxonomy(change_set.base)
        leaves = list(changed_leaf_objects(change_set).values())
        prechecks, notes = student_precheck(config.section("student"), os.environ, leaves, settings.student_pass)
        report = GapsReport(
            tree_gaps(tree, settings.min_examples),
            args.depth,
            landings(tree, leaves, change_set.touched, placed_paths(change_set)),
            prechecks,
            notes,
            problems + more,
        )
    render = {"json": render_gaps_json, "markdown": render_gaps_markdown}.get(args.format, render_gaps_text)
    sys.stdout.write(render(report))
    return EXIT_CLEAN


def _progress() -> Callable[..., None]:
    from bot.generation.generate import LeafReport, plain_progress

    if not sys.stderr.isatty():
        return plain_progress
    from tqdm import tqdm

    bar = tqdm(unit="leaf", file=sys.stderr)

    def update(report: LeafReport, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(report.path[-40:])
        bar.update(1)
        if done == total:
            bar.close()

    return update


def _leaf_paths(taxonomy_dir: Path, given: Sequence[str]) -> list[str]:
    """Taxonomy-relative qna.yaml paths from --leaf values: a qna.yaml or its folder, under the taxonomy or not."""
    root = taxonomy_dir.resolve()
    paths = []
    for value in given:
        path = Path(value)
        tried = [path] if path.is_absolute() else [taxonomy_dir / path, path]
        found = next((p for p in tried if p.exists()), tried[0])
        if found.is_dir():
            found = found / "qna.yaml"
        try:
            paths.append(found.resolve().relative_to(root).as_posix())
        except ValueError:  # outside the taxonomy: named as given, and reported as no such leaf
            paths.append(path.as_posix())
    return paths


def cmd_generate(args: argparse.Namespace) -> int:
    import asyncio
    import json
    import time

    from bot.generation.datasets import Store, read_jsonl
    from bot.generation.generate import (
        candidates_made,
        estimate,
        generate,
        sample_plan,
        summary,
        summary_json,
        write_outputs,
    )
    from bot.generation.pipelines import Plan
    from bot.generation.teacher import EndpointError, ModelClient, ReplyCache, endpoint_from
    from bot.taxonomy.tree import load_directory

    # Every usage error before the first request: a run must not spend the teacher and then fail to write.
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise TargetError(f"--out {out} is a file; name a folder")
    if args.sample is not None and args.sample < 1:
        raise TargetError(f"--sample needs at least 1 pair, found {args.sample}")
    if args.per_leaf < 1:
        raise TargetError(f"--per-leaf needs at least 1 pair, found {args.per_leaf}")
    earlier_path = Path(args.earlier) if args.earlier else None
    if earlier_path is not None and not earlier_path.is_file():
        raise TargetError(f"--earlier {earlier_path}: no such file")
    try:
        earlier = list(read_jsonl(earlier_path)) if earlier_path else []
    except ValueError as error:
        raise TargetError(f"--earlier: {error}") from error
    taxonomy_dir = Path(args.taxonomy)
    config, problems = load_config(taxonomy_dir)
    for problem in problems:
        print(f"{problem.path}:{problem.line}:{problem.col}: {problem.severity} {problem.message}", file=sys.stderr)
    endpoint = endpoint_from(config.section("teacher"), os.environ, "TAXBOT_TEACHER")
    if endpoint is None:
        raise TargetError(
            "no teacher is configured: set TAXBOT_TEACHER_URL and TAXBOT_TEACHER_MODEL, "
            "or `teacher: {url, model}` in .taxbot.yaml"
        )
    taxonomy = load_directory(taxonomy_dir)
    if args.leaf:
        wanted = _leaf_paths(taxonomy_dir, args.leaf)
        missing = {p: taxonomy.unreadable.get(p, "no such leaf") for p in wanted if p not in taxonomy.leaves}
        if missing:
            raise TargetError("; ".join(f"{p}: {why}" for p, why in missing.items()) + " (run `taxbot lint` on it)")
        leaves = [taxonomy.leaves[p] for p in dict.fromkeys(wanted)]
    elif args.full:
        leaves = list(taxonomy.leaves.values())
    else:
        raise TargetError("name the leaves to sample with --leaf PATH")
    plan = sample_plan(args.sample) if args.sample else Plan(target=args.per_leaf)
    mode = f"sample-{args.sample}" if args.sample else f"full-{args.per_leaf}"
    cache_dir = Path(args.cache) if args.cache else taxonomy_dir / ".taxbot-cache"
    store = Store(cache_dir / "store") if args.full else None
    client = ModelClient(endpoint, ReplyCache(cache_dir / "replies"))
    guess = estimate(leaves, plan, store, endpoint.model, mode, endpoint)
    apart = f" ({guess.requests_apart} where the teacher gives one reply per request)"
    print(
        f"estimate: {guess.leaves_to_generate} leaves to generate, {guess.leaves_replayed} replayed from the "
        f"store, about {guess.requests} requests{apart if guess.requests_apart > guess.requests else ''} "
        f"and {guess.output_bytes / 1e6:.1f} MB of data",
        file=sys.stderr,
    )
    if args.estimate:
        return EXIT_CLEAN
    started = time.monotonic()
    try:
        reports = asyncio.run(
            generate(leaves, client, plan, store=store, mode=mode, cache_dir=cache_dir, progress=_progress())
        )
    except EndpointError as error:
        raise TargetError(f"the teacher cannot be used: {error}") from error
    seconds = time.monotonic() - started
    counts = write_outputs(out, reports, earlier, args.full)
    text = summary(reports, client, seconds, candidates_made(reports))
    (out / "summary.txt").write_text(text + "\n", encoding="utf-8")
    (out / "summary.json").write_text(
        json.dumps(summary_json(reports, client.stats, seconds), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(text)
    print(f"wrote {sum(counts.values())} records to {out}")
    if any(r.kept == 0 for r in reports):
        return EXIT_FINDINGS
    if args.full and not args.accept_short and any(r.short for r in reports):
        print("taxbot: some leaves are short of --per-leaf (named above); --accept-short takes them", file=sys.stderr)
        return EXIT_FINDINGS
    return EXIT_CLEAN


def cmd_train(args: argparse.Namespace) -> int:
    missing = [name for name in ("torch", "transformers", "peft") if importlib.util.find_spec(name) is None]
    if missing and "--help" not in args.rest and "-h" not in args.rest:
        raise TargetError(f"training needs the `train` extra (missing {', '.join(missing)}): "
                          "pip install torch==<your build> then pip install 'taxbot[train]'")  # fmt: skip
    from trainer.cli import main as train_main

    return train_main(list(args.rest))


def cmd_review(args: argparse.Namespace) -> int:
    import json

    from bot.github.comments import render_summary
    from bot.github.events import make_review
    from bot.review import render_text as render_review_text

    review, _ = make_review(Path(args.taxonomy), args.base, args.head, os.environ, teacher=not args.no_teacher)
    if args.format == "json":
        sys.stdout.write(json.dumps(review.to_json(), indent=2, ensure_ascii=False) + "\n")
    elif args.format == "text":
        sys.stdout.write(_paint(render_review_text(review)))
    else:
        sys.stdout.write(render_summary(review) + "\n")
    return EXIT_FINDINGS if review.verdict == "fail" else EXIT_CLEAN


def cmd_github(args: argparse.Namespace) -> int:
    from bot.github.client import GitHubError
    from bot.github.events import run_github

    report = Path(args.report) if args.report else None
    report_out = Path(args.report_out) if args.report_out else None
    try:
        return run_github(os.environ, Path(args.taxonomy), report, report_out)
    except GitHubError as error:  # GitHub itself failed, after retries: not the user's doing
        print(f"taxbot: {error}", file=sys.stderr)
        return EXIT_FINDINGS


def cmd_release(args: argparse.Namespace) -> int:
    from bot.release.command import release_command

    steps = tuple(s.strip() for s in args.steps.split(",") if s.strip()) if args.steps else None
    return release_command(Path(args.taxonomy), args.commit, args.cache, args.work, steps)


def cmd_trial(args: argparse.Namespace) -> int:
    from bot.release import trial_command

    taxonomy = Path(args.taxonomy)
    if args.verb == "run":
        return trial_command.run_command(taxonomy, args.base, args.head, args.pull, args.cache, args.work,
                                         Path(args.out))  # fmt: skip
    if args.verb == "post":
        return trial_command.post_command(taxonomy, Path(args.result), args.pull, args.head)
    if args.verb == "stale":
        return trial_command.stale_command(taxonomy)
    return trial_command.authorize_command(taxonomy)


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
    parser.add_argument("--version", action="version", version=f"taxbot {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lint = commands.add_parser("lint", help="check qna.yaml leaves: schema, YAML style, community rules")
    lint.add_argument("paths", nargs="+", metavar="PATH", help="qna.yaml files or folders to search for them")
    lint.add_argument("--taxonomy", metavar="DIR", help="the taxonomy root (default: found from each path)")
    lint.add_argument("--jobs", type=int, metavar="N", help="processes to lint with (default: one per core)")
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
        description="Exits 1 when a seed example (question and answer) repeats one elsewhere, as the review fails; "
        "a repeated question or answer alone, or a shared context (one document behind several skills), exits 0.",
    )
    similar.add_argument("--taxonomy", required=True, metavar="DIR", help="the taxonomy (a git work tree)")
    similar.add_argument("--base", required=True, metavar="REF", help="the commit the change starts from")
    similar.add_argument("--head", metavar="REF", help="the commit it ends at (default: the work tree)")
    similar.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="(default: text)")
    similar.add_argument(
        "--cache", metavar="DIR", help="index cache folder (default: `similar.cache` in .taxbot.yaml, else in .git)"
    )
    similar.set_defaults(handler=cmd_similar)

    gaps = commands.add_parser(
        "gaps",
        help="coverage, empty branches and short leaves of the tree; where a change lands; what the student knows",
        description="Always exits 0 (the report informs, it does not gate); 2 on a usage error.",
    )
    gaps.add_argument(
        "--taxonomy", required=True, metavar="DIR", help="the taxonomy folder (a git work tree for a change)"
    )
    gaps.add_argument("--base", metavar="REF", help="review a change: the commit it starts from")
    gaps.add_argument("--head", metavar="REF", help="the commit the change ends at (default: the work tree)")
    gaps.add_argument("--format", choices=("text", "json", "markdown"), default="text", help="(default: text)")
    gaps.add_argument("--depth", type=int, default=2, metavar="N", help="branch levels to show (default: 2)")
    gaps.set_defaults(handler=cmd_gaps)

    gen = commands.add_parser("generate", help="synthetic Q&A pairs from a teacher: samples for a PR, or full sets")
    gen.add_argument("--taxonomy", required=True, metavar="DIR", help="the taxonomy folder")
    gen.add_argument(
        "--leaf", action="append", metavar="PATH", help="a leaf's qna.yaml or folder (taxonomy-relative); repeatable"
    )
    size = gen.add_mutually_exclusive_group(required=True)
    size.add_argument("--sample", type=int, metavar="N", help="N judged sample pairs per leaf, for a review")
    size.add_argument("--full", action="store_true", help="the full set per leaf and the two phase sets")
    gen.add_argument("--per-leaf", type=int, default=100, metavar="N", help="pairs per leaf with --full (100)")
    gen.add_argument("--out", required=True, metavar="DIR", help="where the JSONL files go")
    gen.add_argument("--cache", metavar="DIR", help="reply cache and store (default: DIR/.taxbot-cache)")
    gen.add_argument("--earlier", metavar="FILE", help="an earlier phase-2 set to replay (JSONL)")
    gen.add_argument("--estimate", action="store_true", help="print the estimate and stop")
    gen.add_argument(
        "--accept-short", action="store_true", help="with --full, exit 0 even when a leaf is short of --per-leaf"
    )
    gen.set_defaults(handler=cmd_generate)

    review = commands.add_parser("review", help="the whole review of a change, as on a pull request")
    review.add_argument("--taxonomy", required=True, metavar="DIR", help="the taxonomy (a git work tree)")
    review.add_argument("--base", required=True, metavar="REF", help="the commit the change starts from")
    review.add_argument("--head", required=True, metavar="REF", help="the commit it ends at")
    review.add_argument(
        "--format",
        choices=("markdown", "text", "json"),
        default="markdown",
        help="markdown: the comment as GitHub gets it (default); text: for a terminal; json: the report",
    )
    review.add_argument("--no-teacher", action="store_true", help="skip the parts that call a model")
    review.set_defaults(handler=cmd_review)

    github = commands.add_parser("github", help="act on the GitHub Actions event in GITHUB_EVENT_PATH")
    github.add_argument("--taxonomy", default=".", metavar="DIR", help="the checked-out taxonomy (default: .)")
    github.add_argument("--report-out", metavar="FILE", help="only write the review report (untrusted run)")
    github.add_argument("--report", metavar="FILE",
                        help="a report an untrusted run wrote: a hint, checked against GitHub, never believed")
    github.set_defaults(handler=cmd_github)

    train = commands.add_parser(
        "train", help="two-phase tuning on the phase sets (needs the `train` extra)", add_help=False
    )
    train.add_argument("rest", nargs=argparse.REMAINDER, help="--config FILE [dotted.key=value ...]")
    train.set_defaults(handler=cmd_train)

    release = commands.add_parser(
        "release", help="generate, train, gate and publish a taxonomy commit (needs the `train` extra)"
    )
    release.add_argument("--taxonomy", required=True, metavar="DIR", help="the taxonomy (a git work tree)")
    release.add_argument("--commit", required=True, metavar="SHA", help="the merged taxonomy commit to release")
    release.add_argument("--work", metavar="DIR", help="journals, data and runs (default: CACHE/releases)")
    release.add_argument("--cache", metavar="DIR", help="reply cache and store (default: DIR/.taxbot-cache)")
    release.add_argument("--steps", metavar="LIST", help="only these steps, comma-separated (default: all; the GPU "
                         "job runs plan,generate,train,gate,publish and a job with a write token runs announce)")
    release.set_defaults(handler=cmd_release)

    trial = commands.add_parser(
        "trial", help="does a pull request improve the model? a short LoRA run on the release, and the gate",
        description="run: generate, train and gate a pull request's head on the GPU runner (no GitHub token); "
        "post: its one comment and label; stale: mark trials of pull requests pushed since; authorize: check a "
        "`/taxbot trial` comment.",
    )  # fmt: skip
    verbs = trial.add_subparsers(dest="verb", required=True, metavar="VERB")
    trial_run = verbs.add_parser("run", help="try the head on the release; exit 0 improved, 1 no gain or failed")
    trial_post = verbs.add_parser("post", help="write the trial's comment and labels on the pull request")
    trial_stale = verbs.add_parser("stale", help="mark the trials of pull requests with a newer head as stale")
    trial_authorize = verbs.add_parser("authorize", help="is this issue_comment a maintainer's /taxbot trial?")
    for verb in (trial_run, trial_post, trial_stale, trial_authorize):
        verb.add_argument("--taxonomy", required=True, metavar="DIR", help="the taxonomy (a git clone)")
    for verb in (trial_run, trial_post):
        verb.add_argument("--pull", required=True, type=int, metavar="N", help="the pull request's number")
        verb.add_argument("--head", required=True, metavar="SHA", help="the head commit to try")
    trial_run.add_argument("--base", required=True, metavar="SHA", help="the pull request's base commit")
    trial_run.add_argument("--out", required=True, metavar="FILE", help="where the result (JSON) goes")
    trial_run.add_argument("--work", metavar="DIR", help="a folder per head (default: CACHE/trials)")
    trial_run.add_argument("--cache", metavar="DIR", help="reply cache and store (default: DIR/.taxbot-cache)")
    trial_post.add_argument("--result", required=True, metavar="FILE", help="the result of `taxbot trial run`")
    trial.set_defaults(handler=cmd_trial)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        if argv[:1] == ["train"]:  # argparse cannot hand options such as --help on to a sub-program
            args = argparse.Namespace(handler=cmd_train, rest=argv[1:])
        else:
            args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on bad usage and 0 on --help
        return int(exit_.code or 0)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except UsageError as error:
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
