"""The parts of a review beyond lint, built from config and environment: duplicates, gaps, precheck, samples."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import PurePosixPath

from bot.gaps.coverage import gaps_settings, landings, placed_paths
from bot.gaps.precheck import student_precheck
from bot.generation.generate import sample_plan
from bot.generation.pipelines import generate_leaf
from bot.generation.teacher import ConfigError, Endpoint, EndpointError, ModelClient, endpoint_from
from bot.review import Part, PartResult, Sample
from bot.similar.duplicates import find_duplicates, similar_settings, to_findings
from bot.similar.indexcache import commit_index, default_cache_dir
from bot.taxonomy.config import Config
from bot.taxonomy.diff import ChangeSet
from bot.taxonomy.tree import ATTRIBUTION_NAME, Leaf, load_taxonomy
from bot.triage import check as triage_check

DEFAULT_SAMPLES = 3
NOTHING_KEPT = "no sample pair was kept"  # the note that sets the `sdg-unsuccessful` label


def samples_part(endpoint: Endpoint, count: int) -> Part:
    """A few judged sample pairs per changed leaf, so reviewers see whether the seeds teach what they mean."""

    def run(change_set: ChangeSet, leaves: dict[str, Leaf]) -> PartResult:
        async def all_leaves() -> PartResult:
            async with ModelClient(endpoint) as client:
                try:
                    await client.probe()  # a teacher that is down is one note with its reason, not one per leaf
                except EndpointError as error:
                    return PartResult(notes=[f"the teacher cannot be used: {error}"])
                outcomes = await asyncio.gather(
                    *(generate_leaf(leaf, client, sample_plan(count)) for leaf in leaves.values())
                )
            samples = [
                Sample(outcome.path, k.candidate.question, k.candidate.answer, k.score, k.candidate.context)
                for outcome in outcomes
                for k in outcome.kept
            ]
            notes = [f"{outcome.path}: {'; '.join(outcome.notes)}" for outcome in outcomes if outcome.notes]
            notes += [f"{outcome.path}: {NOTHING_KEPT}" for outcome in outcomes if not outcome.kept]
            return PartResult(data=samples, notes=notes)

        return asyncio.run(all_leaves())

    return run


def duplicates_part(config: Config) -> Part:
    """Near-duplicate seeds against the tree at the base commit (cached index) and inside the change."""

    def run(change_set: ChangeSet, leaves: dict[str, Leaf]) -> PartResult:
        settings, problems = similar_settings(config.section("similar"), lines=config.lines("similar"))
        base = change_set.base
        cache = default_cache_dir(base.repo)
        index, _ = commit_index(base.repo, base.commit.hexsha, base.prefix, settings.thresholds, cache)
        matches = find_duplicates(index, list(leaves.values()), change_set.touched)
        rows = [{"leaf": str(m.changed), "kind": str(m.kind), "like": str(m.other), "score": f"{m.score:g}",
                 "text": m.other_text[:160]} for m in matches]  # fmt: skip
        return PartResult(to_findings(matches), rows, [p.message for p in problems])

    return run


def gaps_part(config: Config) -> Part:
    """Where each changed leaf lands in the tree, and whether its nearest leaves by content are elsewhere."""

    def run(change_set: ChangeSet, leaves: dict[str, Leaf]) -> PartResult:
        gaps_settings(config.section("gaps"))  # validated here too, so a bad section is a note
        tree = load_taxonomy(change_set.base)
        rows = []
        for landing in landings(tree, list(leaves.values()), change_set.touched, placed_paths(change_set)):
            where = f"new branch {landing.new_folders}" if landing.new_folders else landing.branch
            where = where if landing.placed else f"{where} (edited in place)"
            near = ", ".join(str(PurePosixPath(n.path).parent) for n in landing.by_content[:3]) or "none"
            rows.append({"leaf": landing.path, "lands in": where, "siblings": len(landing.siblings),
                         "nearest by content": near,
                         "check": f"misplaced? nearest leaves are under {landing.elsewhere}" if landing.elsewhere
                         else ""})  # fmt: skip
        return PartResult(data=rows)

    return run


def precheck_part(config: Config, env: Mapping[str, str]) -> Part:
    """The current model asked the change's seed questions: does the leaf teach it something new?"""

    def run(change_set: ChangeSet, leaves: dict[str, Leaf]) -> PartResult:
        settings, _ = gaps_settings(config.section("gaps"), lines=config.lines("gaps"))
        results, notes = student_precheck(config.section("student"), env, list(leaves.values()), settings.student_pass)
        if not results and notes:  # it did not run: say so, not "none found"
            return PartResult(notes=[f"not run: {note}" for note in notes])
        return PartResult(data=[{"leaf": r.path, "student": r.verdict()} for r in results], notes=notes)

    return run


def triage_part(config: Config, teacher: Endpoint | None) -> Part:
    """What triagers checked by hand: personal data, secrets, abuse, machine-written answers, seed quality.
    The teacher, where one is handed in, gives a second opinion on abuse and machine-written answers."""

    def run(change_set: ChangeSet, leaves: dict[str, Leaf]) -> PartResult:
        settings, problems = triage_check.triage_settings(config.section("triage"), config.disabled_rules)
        with_attribution = []
        for path, leaf in leaves.items():
            entry = change_set.head.entry(str(PurePosixPath(path).parent / ATTRIBUTION_NAME))
            text = entry.read().decode("utf-8", errors="replace") if entry and not entry.is_symlink else None
            with_attribution.append((leaf, text))
        hits, notes = triage_check.triage(with_attribution, settings, teacher)
        return PartResult(triage_check.to_findings(hits), triage_check.triage_rows(hits), problems + notes)

    return run


def review_parts(config: Config, env: Mapping[str, str], *, teacher: bool) -> tuple[dict[str, Part], list[str]]:
    """The parts to run, and notes on the ones left out (so the review says what it did not check).

    Duplicates and gaps read the tree only; precheck and samples call models, so they run only where
    `teacher` is allowed (the trusted run, or a local review).
    """
    parts: dict[str, Part] = {"duplicates": duplicates_part(config), "gaps": gaps_part(config)}
    notes: list[str] = []
    endpoint, endpoint_error = None, None
    if teacher:
        try:
            endpoint = endpoint_from(config.section("teacher"), env, "TAXBOT_TEACHER")
        except ConfigError as error:  # the base's config is the maintainers' to fix; the review still runs
            endpoint_error = error
    parts["triage"] = triage_part(config, endpoint)
    if teacher:
        if endpoint_error is not None:
            wrong = f"the `teacher:` section of .taxbot.yaml at the base is wrong: {endpoint_error}"
            notes.append(f"samples: not run: {wrong}")
        elif endpoint is None:
            notes.append("samples: not run: no teacher is configured (set TAXBOT_TEACHER_URL and _MODEL)")
        else:
            count = config.section("generate").get("review_samples", DEFAULT_SAMPLES)
            parts["samples"] = samples_part(endpoint, int(count) if isinstance(count, int) else DEFAULT_SAMPLES)
        parts["precheck"] = precheck_part(config, env)
    else:
        notes.append("sample pairs and the precheck come from the trusted run that can reach the models")
    return parts, notes
