"""`taxbot release`: plan, generate, train, gate, publish, announce; each step once per taxonomy commit."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from github.Repository import Repository
from huggingface_hub import HfApi

from bot.generation.datasets import Store
from bot.generation.generate import generate, plain_progress, write_outputs
from bot.generation.pipelines import Plan
from bot.generation.teacher import Endpoint, EndpointError, ModelClient, ReplyCache
from bot.release import hub
from bot.release.announce import comment_on_pulls, github_release, pull_authors
from bot.release.card import hub_base_model, model_card
from bot.release.gate import (
    Answerer,
    GateQuestion,
    GateReport,
    GateSettings,
    Judge,
    gate_questions,
    parse_general_set,
    parse_safety_set,
    render_gate,
    run_gate,
)
from bot.release.journal import JOURNAL_FILE, STEPS, ReleaseJournal, load_journal, save_journal
from bot.release.notes import CURVES_PNG, LeafNote, ReleaseFacts, pull_comment, pull_numbers, release_notes
from bot.release.settings import ReleaseSettings, render_scheme
from bot.taxonomy.diff import ChangeStatus, changed_leaves
from bot.taxonomy.tree import GitSource, Leaf, TaxonomyError, load_taxonomy, open_repo, resolve_commit

SHIPPED_TRAIN_CONFIG = "phase2.yaml"


class ReleaseError(Exception):
    """A step of the release cannot go on; the message says why and what to do."""


class ReleaseStopped(Exception):
    """Training was stopped by SIGTERM at a checkpoint; rerunning the release resumes it."""


@dataclass(frozen=True)
class ReleaseInputs:
    taxonomy_dir: Path
    commit: str  # as given; resolved to the full sha by the plan
    work_dir: Path  # one folder per taxonomy commit is made under it
    cache_dir: Path  # generate's reply cache and content-addressed store, shared with `taxbot generate`
    settings: ReleaseSettings
    gate: GateSettings
    event_messages: Sequence[str] = ()  # commit messages of the push event, for a first release


@dataclass
class ReleaseEdges:
    """The outside world, handed in: teacher, Hub, GitHub, the models that answer the gate, a log, a clock."""

    teacher: Endpoint
    hub: HfApi
    github: Repository
    answerer: Callable[[str], Answerer]  # a model folder or Hub name -> something that answers with it
    judge: Judge | None = None
    log: Callable[[str], None] = print
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass(frozen=True)
class ReleaseOutcome:
    published: bool
    tag: str
    gate: GateReport
    work_dir: Path


def _leaves(inputs: ReleaseInputs, sha: str) -> dict[str, Leaf]:
    repo, prefix = open_repo(inputs.taxonomy_dir)
    taxonomy = load_taxonomy(GitSource(repo, resolve_commit(repo, sha), prefix))
    if taxonomy.unreadable:
        broken = "; ".join(f"{path}: {why}" for path, why in sorted(taxonomy.unreadable.items()))
        raise ReleaseError(f"leaves that cannot be read at {sha[:7]}: {broken}; fix them in a new commit")
    return taxonomy.leaves


def _plan(inputs: ReleaseInputs, edges: ReleaseEdges, journal: ReleaseJournal, work: Path) -> dict[str, Any]:
    """What this release is: the previous release, the leaf changes since it, the pull requests, its names."""
    sha = journal.taxonomy_commit
    repo, _ = open_repo(inputs.taxonomy_dir)
    commit = resolve_commit(repo, sha)
    previous = hub.previous_release(edges.hub, inputs.settings.hub_repo, work / "previous-record")
    if previous is None:
        changes = [{"path": path, "status": "added", "old_path": None} for path in sorted(_leaves(inputs, sha))]
        messages = list(inputs.event_messages) or [commit.message]
    else:
        try:
            resolve_commit(repo, previous.taxonomy_commit)
        except TaxonomyError as error:
            raise ReleaseError(
                f"the previous release {previous.tag} was made from {previous.taxonomy_commit}, which this clone "
                "lacks: fetch the full history (actions/checkout with fetch-depth: 0)"
            ) from error
        changes = [c.to_json() for c in changed_leaves(inputs.taxonomy_dir, previous.taxonomy_commit, sha).changes]
        messages = [str(c.message) for c in repo.iter_commits(f"{previous.taxonomy_commit}..{sha}")]
    date = commit.committed_datetime.astimezone(UTC).strftime("%Y%m%d")  # the commit's date: reruns agree
    return {
        "taxonomy_commit": sha,
        "previous": None if previous is None else vars(previous),
        "changes": changes,
        "pulls": pull_numbers(messages),
        "pull_leaves": _pull_leaves(
            list(repo.iter_commits(f"{previous.taxonomy_commit}..{sha}")) if previous else [commit]
        ),
        "tag": render_scheme(inputs.settings.tag, sha, date),
        "branch": render_scheme(inputs.settings.candidate_branch, sha, date),
    }


def _pull_leaves(commits: Sequence[Any]) -> dict[str, list[str]]:
    """The leaves each pull request changed, from the merge or squash commits that name it."""
    found: dict[str, set[str]] = {}
    for commit in commits:
        leaves = {str(path) for path in commit.stats.files if str(path).endswith("qna.yaml")}
        for number in pull_numbers([str(commit.message)]):
            found.setdefault(str(number), set()).update(leaves)
    return {number: sorted(paths) for number, paths in found.items()}


def _generate(inputs: ReleaseInputs, edges: ReleaseEdges, journal: ReleaseJournal, work: Path) -> dict[str, Any]:
    leaves = [leaf for _, leaf in sorted(_leaves(inputs, journal.taxonomy_commit).items())]
    per_leaf = inputs.settings.per_leaf
    client = ModelClient(edges.teacher, ReplyCache(inputs.cache_dir / "replies"))
    try:
        reports = asyncio.run(
            generate(leaves, client, Plan(target=per_leaf), store=Store(inputs.cache_dir / "store"),
                     mode=f"full-{per_leaf}", cache_dir=inputs.cache_dir, progress=plain_progress)
        )  # fmt: skip
    except EndpointError as error:
        raise ReleaseError(f"the teacher cannot be used: {error}") from error
    empty = [r.path for r in reports if r.kept == 0]
    if empty:
        raise ReleaseError(
            f"the teacher gave no usable data for {', '.join(empty)}; rerun `taxbot release` to try again "
            "(answered requests are cached)"
        )
    counts = write_outputs(work / "data", reports, [], full=True)
    return {"phase1": str(work / "data" / "phase1.jsonl"), "phase2": str(work / "data" / "phase2.jsonl"),
            "phase1_records": counts["phase1.jsonl"], "phase2_records": counts["phase2.jsonl"],
            "replayed_leaves": sum(r.replayed for r in reports)}  # fmt: skip


def _train(inputs: ReleaseInputs, edges: ReleaseEdges, journal: ReleaseJournal, work: Path) -> dict[str, Any]:
    """Training in its own processes (torchrun, one per visible GPU): waited for, its exit code carried."""
    from trainer.config import load_config
    from trainer.errors import TrainerError
    from trainer.launch import EXIT_STOPPED, launch, process_count, train_command
    from trainer.plan import plan_phases

    settings, data, sha = inputs.settings, journal.result("generate") or {}, journal.taxonomy_commit
    config_path = Path(files("trainer") / "configs" / SHIPPED_TRAIN_CONFIG)  # type: ignore[arg-type]
    if settings.train_config:
        config_path = inputs.taxonomy_dir / settings.train_config
    # The release's own values come last, so a configured override cannot point training elsewhere.
    overrides = [*settings.train_overrides, f"model.name_or_path={settings.base_model}",
                 f"data.phase1={data['phase1']}", f"data.phase2={data['phase2']}",
                 f"run.output_dir={work / 'runs'}", f"run.taxonomy_commit={sha[:12]}"]  # fmt: skip
    if data["phase1_records"] == 0:  # a taxonomy of skills only: one pass over the skills
        overrides.append("run.mode=stacked")
    elif data["phase2_records"] == 0:  # knowledge only: phase 2 would have nothing to learn
        overrides.append("run.stop_after=phase1")
    try:  # checked here, so a wrong setting is named before any process starts
        config = load_config(config_path, overrides)
        run_dir = Path(config.run.output_dir) / config.run.taxonomy_commit
        final_dir = plan_phases(config, run_dir)[-1].final_dir(run_dir)
    except TrainerError as error:
        raise ReleaseError(f"training cannot start: {error}") from error
    processes = process_count(settings.train_processes)
    edges.log(f"train: {processes} process(es), run folder {run_dir}")
    code = launch(train_command(config_path, overrides, processes), run_dir, config.run.taxonomy_commit)
    if code == EXIT_STOPPED:
        raise ReleaseStopped(f"training stopped at a checkpoint in {run_dir}; rerun the same command to resume")
    if code != 0:
        raise ReleaseError(f"training failed (exit code {code}); its log is above, and a rerun resumes it")
    training = {}
    for metadata in sorted(run_dir.glob("*/final/taxbot_phase.json")):
        phase = json.loads(metadata.read_text(encoding="utf-8"))
        training[phase["phase"]] = {"samples": phase["data"]["samples"], "steps": phase["steps"],
                                    "final_loss": phase["final_loss"]}  # fmt: skip
    return {"model": str(final_dir), "curves": str(run_dir / CURVES_PNG), "training": training}


def _gate(inputs: ReleaseInputs, edges: ReleaseEdges, journal: ReleaseJournal, work: Path) -> dict[str, Any]:
    plan, trained = journal.result("plan") or {}, journal.result("train") or {}
    leaves = _leaves(inputs, plan["taxonomy_commit"])
    changed = {c["path"] for c in plan["changes"] if c["status"] != ChangeStatus.DELETED}
    general = _question_set(inputs, "general_set", inputs.gate.general_set, "general_qa.jsonl", parse_general_set)
    safety = _question_set(inputs, "safety_set", inputs.gate.safety_set, "safety_qa.jsonl", parse_safety_set)
    questions = gate_questions(
        [leaves[p] for p in sorted(changed) if p in leaves],
        [leaf for path, leaf in sorted(leaves.items()) if path not in changed],
        general,
        inputs.gate.kept_leaves,
        safety,
    )
    previous = plan["previous"]
    if previous is None:
        previous_model = inputs.settings.base_model
    else:
        destination = work / "previous-model"
        previous_model = str(hub.download(edges.hub, inputs.settings.hub_repo, previous["revision"], destination))
    edges.log(f"gate: {len(questions)} questions for {previous_model} and the candidate")
    from trainer.errors import TrainerError

    try:
        report = run_gate(questions, edges.answerer(previous_model), edges.answerer(trained["model"]), inputs.gate,
                          edges.judge, edges.log)  # fmt: skip
    except TrainerError as error:  # a model that cannot be loaded to answer
        raise ReleaseError(f"the gate could not ask the models: {error}") from error
    details = [s.to_json() for s in report.scored]
    (work / "gate.json").write_text(json.dumps({**report.summary_json(), "answers": details}, indent=2) + "\n", "utf-8")
    (work / "gate.md").write_text(render_gate(report), encoding="utf-8")
    return report.summary_json()


def _question_set(
    inputs: ReleaseInputs, key: str, path: str | None, shipped: str, parse: Callable[[str, str], list[GateQuestion]]
) -> list[GateQuestion]:
    """A gate question set: the file `gate.<key>` names in the taxonomy, or the one shipped with taxbot."""
    try:
        if path:
            return parse((inputs.taxonomy_dir / path).read_text(encoding="utf-8"), path)
        return parse((files("bot") / "data" / shipped).read_text(encoding="utf-8"), f"the shipped {shipped}")
    except (OSError, ValueError) as error:
        raise ReleaseError(f"cannot read gate.{key}: {error}") from error


def _facts(
    inputs: ReleaseInputs, edges: ReleaseEdges, journal: ReleaseJournal, pulls: dict[int, str | None]
) -> ReleaseFacts:
    plan, trained = journal.result("plan") or {}, journal.result("train") or {}
    leaves = _leaves(inputs, plan["taxonomy_commit"])
    notes = [LeafNote(c["path"], c["status"], _created_by(leaves.get(c["path"]))) for c in plan["changes"]]
    # A local base model is named by the Hub id it stands for: the runner's paths stay off the Hub.
    base_model = hub_base_model(inputs.settings) or "a local model (set release.base_model_id to name it)"
    return ReleaseFacts(
        tag=plan["tag"], taxonomy_commit=plan["taxonomy_commit"], hub_repo=inputs.settings.hub_repo,
        hub_url=edges.hub.endpoint, base_model=base_model,
        pull_leaves={int(n): leaves for n, leaves in (plan.get("pull_leaves") or {}).items()},
        gate=GateReport.from_summary(journal.result("gate") or {}), leaves=notes, pulls=pulls,
        previous_commit=(plan["previous"] or {}).get("taxonomy_commit"), training=trained.get("training", {}),
        taxonomy_url=edges.github.html_url,
    )  # fmt: skip


def _created_by(leaf: Leaf | None) -> str | None:
    value = leaf.data.get("created_by") if leaf is not None else None
    return value if isinstance(value, str) else None


def _publish(inputs: ReleaseInputs, edges: ReleaseEdges, journal: ReleaseJournal, work: Path) -> dict[str, Any]:
    plan, trained = journal.result("plan") or {}, journal.result("train") or {}
    authors, notes = pull_authors(edges.github, plan["pulls"])
    for note in notes:
        edges.log(f"publish: {note}")
    facts = _facts(inputs, edges, journal, authors)
    folder = work / "publish"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    # The trained folder, less its pickles (training_args.bin) and with the runner's paths named by what they are.
    private = {str(work.resolve()): "<release>", str(work): "<release>"}
    if Path(inputs.settings.base_model).exists():
        private[inputs.settings.base_model] = hub_base_model(inputs.settings) or "<local base model>"
    for source in sorted(Path(trained["model"]).iterdir()):
        if source.is_file() and not hub.is_pickle(source.name):
            if source.suffix == ".json":
                text = source.read_text(encoding="utf-8")
                for path, name in sorted(private.items(), key=lambda item: -len(item[0])):
                    text = text.replace(json.dumps(path)[1:-1], name)
                (folder / source.name).write_text(text, encoding="utf-8")
            else:
                shutil.copy(source, folder / source.name)
    shutil.copy(trained["curves"], folder / CURVES_PNG)
    shutil.copy(work / "gate.json", folder / "gate.json")
    generated = {**(journal.result("generate") or {}), "teacher": edges.teacher.model}
    (folder / "README.md").write_text(model_card(facts, inputs.settings, generated), encoding="utf-8")
    record = {"taxonomy_commit": facts.taxonomy_commit, "tag": facts.tag, "previous_commit": facts.previous_commit,
              "leaves": plan["changes"], "pulls": plan["pulls"]}  # fmt: skip
    (folder / hub.RELEASE_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    message = f"taxbot release {facts.tag} (taxonomy {facts.taxonomy_commit[:7]})"
    published = hub.publish(edges.hub, inputs.settings.hub_repo, folder, plan["branch"], facts.tag, message, edges.log,
                            private=sorted(private))  # fmt: skip
    return {"pulls": {str(n): a for n, a in authors.items()}, "candidate_commit": published.candidate_commit,
            "main_commit": published.main_commit}  # fmt: skip


def _announce(inputs: ReleaseInputs, edges: ReleaseEdges, journal: ReleaseJournal, work: Path) -> dict[str, Any]:
    pulls = {int(n): author for n, author in (journal.result("publish") or {})["pulls"].items()}
    facts = _facts(inputs, edges, journal, pulls)
    image = f"{facts.model_url}/resolve/{facts.tag}/{CURVES_PNG}"
    url = github_release(edges.github, facts.tag, facts.taxonomy_commit, release_notes(facts, image))
    commented, notes = comment_on_pulls(edges.github, {n: pull_comment(facts, url, n) for n in facts.pulls})
    for note in notes:
        edges.log(f"announce: {note}")
    return {"release_url": url, "commented": commented, "notes": notes}


_STEPS: dict[str, Callable[[ReleaseInputs, ReleaseEdges, ReleaseJournal, Path], dict[str, Any]]] = {
    "plan": _plan, "generate": _generate, "train": _train, "gate": _gate, "publish": _publish, "announce": _announce,
}  # fmt: skip


def run_release(inputs: ReleaseInputs, edges: ReleaseEdges, steps: Collection[str] = STEPS) -> ReleaseOutcome:
    """Every step of `steps` not yet in the journal, in order. Stops after a failed gate: nothing is published
    then. A step left out of `steps` must already be in the journal when a later one needs it (the GPU job runs
    up to `publish` with no GitHub write token; a short job with one runs `announce` from its journal)."""
    repo, _ = open_repo(inputs.taxonomy_dir)
    sha = resolve_commit(repo, inputs.commit).hexsha
    work = inputs.work_dir / sha
    work.mkdir(parents=True, exist_ok=True)
    journal_path = work / JOURNAL_FILE
    journal = load_journal(journal_path, sha)
    last = max(STEPS.index(step) for step in steps)
    for step in STEPS[: last + 1]:
        if journal.result(step) is not None:
            edges.log(f"{step}: done earlier for {sha[:7]}, skipped")
        elif step not in steps:
            raise ReleaseError(f"{step} has not run for {sha[:7]} (no journal entry in {journal_path}); run it first")
        else:
            edges.log(f"{step}: starting")
            result = _STEPS[step](inputs, edges, journal, work)
            journal = journal.finished(step, result, edges.now().isoformat(timespec="seconds"))
            save_journal(journal_path, journal)
        tag = (journal.result("plan") or {})["tag"]
        if step == "gate" and not (gate := journal.result("gate") or {})["passed"]:
            return ReleaseOutcome(False, tag, GateReport.from_summary(gate), work)
    return ReleaseOutcome(True, tag, GateReport.from_summary(journal.result("gate") or {}), work)
