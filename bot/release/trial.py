"""`taxbot trial`: does a pull request improve the model? Its leaves' data, a short LoRA run on the release, the gate.

One trial per head commit, each step recorded in a journal (`WORK/<head>/trial.json`), so the same head is
never generated or trained twice. The pull request's files are read from git as data, never run or checked out.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rapidfuzz import fuzz, process

from bot.generation.datasets import Record, Store, leaf_key, to_record, write_jsonl
from bot.generation.generate import generate, plain_progress
from bot.generation.pipelines import Kept, Plan, normalise
from bot.generation.prompts import Candidate
from bot.generation.teacher import Endpoint, ModelClient, ReplyCache
from bot.release.gate import (
    CHANGED,
    GROUP_TITLES,
    KEPT,
    Answerer,
    GateQuestion,
    GateReport,
    GateSettings,
    Judge,
    gate_questions,
    parse_general_set,
    parse_safety_set,
    run_gate,
)
from bot.release.journal import ReleaseJournal, load_journal, save_journal
from bot.release.settings import ReleaseSettings, _kinds, _typed
from bot.taxonomy.diff import changed_leaves
from bot.taxonomy.tree import GitSource, Leaf, TaxonomyError, load_taxonomy, open_repo, resolve_commit

if TYPE_CHECKING:
    from huggingface_hub import HfApi

TRIAL_STEPS = ("plan", "generate", "train", "gate")
TRIAL_JOURNAL = "trial.json"
SHIPPED_TRIAL_CONFIG = "trial_train.yaml"
RESULT_KIND = "taxbot-trial"
SEED_SOURCE = "seed examples"  # the `teacher` of a replayed seed example: a person wrote it
JUDGE_TOP = 3  # the judge's best score, given to a seed example
COPY_CUTOFF = Plan(target=1).duplicate_cutoff  # rapidfuzz ratio from which a replayed question copies a gate one
IMPROVED, NO_GAIN, STOPPED, FAILED = "improved", "no-gain", "stopped", "failed"
STATUSES = (IMPROVED, NO_GAIN, STOPPED, FAILED)


class TrialError(Exception):
    """A step of the trial cannot go on; the message says why and what to do."""


class TrialStopped(Exception):
    """Training ran past `trial.max_minutes` and stopped at a checkpoint; a rerun resumes it."""


@dataclass(frozen=True)
class TrialSettings:
    """The `trial:` section of .taxbot.yaml: how much a trial may cost, and what counts as a gain."""

    steps: int = 60  # LoRA optimiser steps
    pairs_per_leaf: int = 30  # generated pairs per changed leaf
    replay: int = 200  # records of earlier releases' data mixed in, against forgetting
    max_minutes: float = 30.0  # training stops at a checkpoint past this (from the start of the trial)
    min_gain: float = 0.02  # the changed leaves must score at least this much better
    max_regression: float = 0.02  # other leaves and general questions may score at most this much worse
    train_config: str | None = None  # a trainer YAML in the taxonomy; None: the shipped bot/data/trial_train.yaml
    train_overrides: tuple[str, ...] = ()  # dotted.key=value, as `taxbot train` takes them
    label_improved: str = "trial-improved"
    label_no_gain: str = "trial-no-gain"


def trial_labels(settings: TrialSettings) -> dict[str, str]:
    """The label each answer puts on the pull request, by status."""
    return {IMPROVED: settings.label_improved, NO_GAIN: settings.label_no_gain}


def read_trial_settings(raw: Mapping[str, object]) -> tuple[TrialSettings, list[str], list[str]]:
    """The section as settings, its problems (all of them) and warnings for unknown keys."""
    known = [f.name for f in fields(TrialSettings)]
    warnings = [f"unknown key `trial.{key}` is ignored; known: {', '.join(known)}" for key in raw if key not in known]
    problems: list[str] = []
    settings = TrialSettings(**_typed("trial", raw, _kinds(TrialSettings), problems))
    for key in ("steps", "pairs_per_leaf"):
        if getattr(settings, key) < 1:
            problems.append(f"`trial.{key}` must be at least 1")
    if settings.replay < 0:
        problems.append("`trial.replay` must not be negative")
    if settings.max_minutes <= 0:
        problems.append("`trial.max_minutes` must be above 0")
    if not 0 < settings.min_gain <= 1:
        problems.append("`trial.min_gain` must be above 0 and at most 1: at 0 a trial that learned nothing improves")
    if not 0 <= settings.max_regression <= 1:
        problems.append("`trial.max_regression` must be between 0 and 1")
    for key in ("label_improved", "label_no_gain"):
        label = getattr(settings, key)
        if not label.strip() or len(label) > 50 or "," in label:
            problems.append(f"`trial.{key}` must be a GitHub label name (1-50 characters, no comma), found {label!r}")
    if settings.label_improved == settings.label_no_gain:
        problems.append("`trial.label_improved` and `trial.label_no_gain` must differ")
    if bad := [o for o in settings.train_overrides if "=" not in o]:
        problems.append(f"`trial.train_overrides` must be dotted.key=value items, found {bad}")
    return settings, problems, warnings


@dataclass(frozen=True)
class TrialInputs:
    taxonomy_dir: Path  # a clone holding both commits; its work tree is never read
    base: str  # the pull request's base; the trial diffs from its merge base with the head
    head: str
    pull: int
    work_dir: Path  # one folder per head commit is made under it: the cache that keeps a head from training twice
    cache_dir: Path  # generate's reply cache and content-addressed store, shared with `taxbot release`
    release: ReleaseSettings
    gate: GateSettings
    trial: TrialSettings


@dataclass
class TrialEdges:
    """The outside world, handed in: the teacher, the Hub (read only), the models that answer, a log, a clock."""

    teacher: Endpoint
    hub: HfApi
    answerer: Callable[[str], Answerer]  # a model folder or Hub name -> something that answers with it
    judge: Judge | None = None
    log: Callable[[str], None] = print
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    clock: Callable[[], float] = time.monotonic


def _read_at(repo_dir: Path, commit: str, path: str) -> str:
    """A file of the taxonomy at a commit (the base's config and files: a pull request cannot change them)."""
    repo, prefix = open_repo(repo_dir)
    entry = GitSource(repo, resolve_commit(repo, commit), prefix).entry(path)
    if entry is None or entry.is_symlink:
        raise TrialError(f"{path} is not a file at {commit[:7]}")
    return entry.read().decode("utf-8")


def _leaves(inputs: TrialInputs, sha: str) -> dict[str, Leaf]:
    repo, prefix = open_repo(inputs.taxonomy_dir)
    return load_taxonomy(GitSource(repo, resolve_commit(repo, sha), prefix)).leaves


def _plan(inputs: TrialInputs, edges: TrialEdges, journal: ReleaseJournal, work: Path) -> dict[str, Any]:
    """The leaves the pull request adds or changes, from where it branched; the release it is tried on."""
    head = journal.taxonomy_commit
    repo, prefix = open_repo(inputs.taxonomy_dir)
    try:
        base = resolve_commit(repo, inputs.base).hexsha
        merge_bases = repo.merge_base(base, head)
    except TaxonomyError as error:
        raise TrialError(f"{error}; fetch the pull request's base and head (fetch-depth: 0)") from error
    if not merge_bases:
        raise TrialError(f"{head[:7]} shares no history with the base {base[:7]}")
    fork_point = merge_bases[0].hexsha
    change_set = changed_leaves(inputs.taxonomy_dir, fork_point, head)
    changed = [change.path for change in change_set.present]
    taxonomy = load_taxonomy(GitSource(repo, resolve_commit(repo, head), prefix))
    if broken := [f"{path}: {taxonomy.unreadable[path]}" for path in changed if path in taxonomy.unreadable]:
        raise TrialError(f"changed leaves that cannot be read: {'; '.join(broken)}; fix them first (`taxbot lint`)")
    if not changed:
        raise TrialError(f"the pull request adds or changes no leaf between {fork_point[:7]} and {head[:7]}")
    from bot.release import hub  # the Hub's client comes with the `train` extra, which a trial needs

    try:
        previous = hub.previous_release(edges.hub, inputs.release.hub_repo, work / "previous-record")
    except hub.HubError as error:
        raise TrialError(str(error)) from error
    record = None if previous is None else vars(previous)
    return {"base": fork_point, "head": head, "leaves": changed, "previous": record}


def _user_question(record: Record) -> str:
    """The question a training record asks: the last paragraph of its user turn (a context comes before it)."""
    messages = record["messages"]
    return str(messages[0]["content"]).rsplit("\n\n", 1)[-1] if isinstance(messages, list) and messages else ""


def _replay(
    inputs: TrialInputs, leaves: Mapping[str, Leaf], changed: set[str], teacher: str, head: str,
    asked: Sequence[GateQuestion],
) -> tuple[list[Record], int, int]:  # fmt: skip
    """Earlier data against forgetting, with no teacher call: the records, how many are seed examples, and how
    many were left out as copies of a question the gate asks.

    First the store's full sets of the unchanged leaves (what the releases trained on); where they fall short of
    `trial.replay` (a runner whose cache never saw a release), the seed examples of the unchanged leaves. The
    leaves the gate asks as its regression sample are never replayed, nor any record whose question is a copy
    or near copy of one the gate asks (a new leaf may copy another's seeds): the trial is scored on questions
    its training did not show.
    """
    sampled = {q.source for q in asked if q.group == KEPT}
    others = [leaf for path, leaf in sorted(leaves.items()) if path not in changed and path not in sampled]
    questions = [normalise(q.prompt) for q in asked]

    def unseen(records: list[Record]) -> list[Record]:
        def copies(record: Record) -> bool:
            found = process.extractOne(normalise(_user_question(record)), questions, scorer=fuzz.ratio,
                                       score_cutoff=COPY_CUTOFF)  # fmt: skip
            return found is not None

        return [record for record in records if not copies(record)]

    store = Store(inputs.cache_dir / "store")
    earlier: list[Record] = []
    for mode in dict.fromkeys([f"full-{inputs.release.per_leaf}", f"full-{inputs.trial.pairs_per_leaf}"]):
        for leaf in others:
            earlier += store.get(leaf_key(leaf, teacher, mode)) or []
    earlier = list({str(r["id"]): r for r in earlier}.values())
    seeds = [to_record(leaf.path, leaf.kind, Kept(Candidate(seed.question, seed.answer, seed.context), JUDGE_TOP),
                       SEED_SOURCE)
             for leaf in others for seed in leaf.seed_examples]  # fmt: skip
    kept_earlier, kept_seeds = unseen(earlier), unseen(seeds)
    copies = len(earlier) - len(kept_earlier) + len(seeds) - len(kept_seeds)
    rng = random.Random(head)
    replay = rng.sample(kept_earlier, min(inputs.trial.replay, len(kept_earlier)))
    topped = rng.sample(kept_seeds, min(inputs.trial.replay - len(replay), len(kept_seeds)))
    return replay + topped, len(topped), copies


def _generate(inputs: TrialInputs, edges: TrialEdges, journal: ReleaseJournal, work: Path) -> dict[str, Any]:
    plan = journal.result("plan") or {}
    leaves = _leaves(inputs, plan["head"])
    pairs = inputs.trial.pairs_per_leaf
    client = ModelClient(edges.teacher, ReplyCache(inputs.cache_dir / "replies"))
    store = Store(inputs.cache_dir / "store")
    reports = asyncio.run(
        generate([leaves[p] for p in plan["leaves"]], client, Plan(target=pairs), store=store, mode=f"full-{pairs}",
                 cache_dir=inputs.cache_dir, progress=plain_progress)
    )  # fmt: skip
    if empty := [r.path for r in reports if r.kept == 0]:
        raise TrialError(f"the teacher gave no usable data for {', '.join(empty)}; run the trial again to retry")
    records = [record for report in reports for record in report.records]
    changed = set(plan["leaves"])
    asked = _asked(inputs, plan, leaves)
    replay, from_seeds, copies = _replay(inputs, leaves, changed, edges.teacher.model, plan["head"], asked)
    if copies:
        edges.log(f"generate: {copies} earlier records left out of the replay: their questions are the gate's")
    mixed = records + replay
    random.Random(plan["head"]).shuffle(mixed)
    path = work / "data" / "trial.jsonl"
    write_jsonl(path, mixed)
    return {"data": str(path), "records": len(records), "replayed": len(replay), "replayed_seeds": from_seeds}


@contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """SIGTERM past the limit, so the trainer checkpoints and stops at the end of its step.

    The trainer only listens for SIGTERM once its model is loaded. Until then this handler keeps the process
    alive, and the signal (the limit's, or a pre-emption's) is sent again every few seconds until training
    returns, so the trainer hears it either way.
    """
    done, wake = threading.Event(), threading.Event()

    def nag() -> None:
        wake.wait(max(seconds, 0.0))
        while not done.is_set():
            os.kill(os.getpid(), signal.SIGTERM)
            done.wait(2.0)

    previous = signal.signal(signal.SIGTERM, lambda signum, frame: wake.set())
    thread = threading.Thread(target=nag, name="trial-time-limit", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        wake.set()
        thread.join()
        signal.signal(signal.SIGTERM, previous)


def _start_model(inputs: TrialInputs, edges: TrialEdges, plan: Mapping[str, Any], work: Path) -> str:
    from bot.release import hub

    previous = plan["previous"]
    if previous is None:
        return inputs.release.base_model
    destination = work / "release-model"
    try:
        return str(hub.download(edges.hub, inputs.release.hub_repo, previous["revision"], destination))
    except hub.HubError as error:
        raise TrialError(str(error)) from error


def _train(
    inputs: TrialInputs, edges: TrialEdges, journal: ReleaseJournal, work: Path, deadline: float
) -> dict[str, Any]:
    import yaml

    from trainer.config import parse_config
    from trainer.errors import TrainerError
    from trainer.run import run_training

    plan, data = journal.result("plan") or {}, journal.result("generate") or {}
    if inputs.trial.train_config:
        text = _read_at(inputs.taxonomy_dir, plan["base"], inputs.trial.train_config)
        source = inputs.trial.train_config
    else:
        text = (files("bot") / "data" / SHIPPED_TRIAL_CONFIG).read_text(encoding="utf-8")
        source = SHIPPED_TRIAL_CONFIG
    start = _start_model(inputs, edges, plan, work)
    # The trial's own values come last, so a configured override cannot point training elsewhere.
    overrides = [*inputs.trial.train_overrides, f"model.name_or_path={start}", "model.finetune=lora",
                 f"data.phase1={data['data']}", "data.phase2=null", "run.mode=phased", "run.stop_after=phase1",
                 f"phase1.max_steps={inputs.trial.steps}", f"run.output_dir={work / 'runs'}",
                 f"run.taxonomy_commit=trial-{plan['head'][:12]}"]  # fmt: skip
    remaining = deadline - edges.clock()
    if remaining <= 0:
        raise TrialStopped(f"no time left to train (trial.max_minutes={inputs.trial.max_minutes:g})")
    try:
        config = parse_config(yaml.safe_load(text) or {}, overrides, source=source)
        with _time_limit(remaining):
            outcome = run_training(config, interactive=False)
    except (TrainerError, yaml.YAMLError) as error:
        raise TrialError(f"training failed: {error}") from error
    if not outcome.finished or outcome.final_dir is None:
        raise TrialStopped(
            f"training stopped at {outcome.checkpoint} (past trial.max_minutes={inputs.trial.max_minutes:g}, or "
            "the runner sent SIGTERM); run the trial again to resume, or raise trial.max_minutes"
        )
    phase = json.loads((outcome.final_dir / "taxbot_phase.json").read_text(encoding="utf-8"))
    return {"start_model": start, "model": str(outcome.final_dir), "steps": phase["steps"],
            "final_loss": phase["final_loss"], "samples": phase["data"]["samples"]}  # fmt: skip


def _question_set(
    inputs: TrialInputs, base: str, key: str, shipped: str, parse: Callable[[str, str], list[GateQuestion]]
) -> list[GateQuestion]:
    """A gate question set (general or safety): the file `gate.<key>` names at the base, or the shipped one."""
    path = getattr(inputs.gate, key)
    try:
        if path:
            return parse(_read_at(inputs.taxonomy_dir, base, path), path)
        return parse((files("bot") / "data" / shipped).read_text(encoding="utf-8"), f"the shipped {shipped}")
    except (OSError, ValueError, TrialError) as error:
        raise TrialError(f"cannot read gate.{key}: {error}") from error


def _asked(inputs: TrialInputs, plan: Mapping[str, Any], leaves: Mapping[str, Leaf]) -> list[GateQuestion]:
    """The gate's questions for this trial: the changed leaves' seeds, a sample of the others', the general and
    safety sets (read at the base)."""
    changed = set(plan["leaves"])
    general = _question_set(inputs, plan["base"], "general_set", "general_qa.jsonl", parse_general_set)
    safety = _question_set(inputs, plan["base"], "safety_set", "safety_qa.jsonl", parse_safety_set)
    return gate_questions([leaves[p] for p in sorted(changed)],
                          [leaf for path, leaf in sorted(leaves.items()) if path not in changed],
                          general, inputs.gate.kept_leaves, safety)  # fmt: skip


def _gate(inputs: TrialInputs, edges: TrialEdges, journal: ReleaseJournal, work: Path) -> dict[str, Any]:
    from trainer.errors import TrainerError

    plan, trained = journal.result("plan") or {}, journal.result("train") or {}
    questions = _asked(inputs, plan, _leaves(inputs, plan["head"]))
    settings = replace(inputs.gate, min_gain=inputs.trial.min_gain, max_regression=inputs.trial.max_regression)
    edges.log(f"gate: {len(questions)} questions for the release and the trial model")
    try:
        report = run_gate(questions, edges.answerer(trained["start_model"]), edges.answerer(trained["model"]),
                          settings, edges.judge, edges.log)  # fmt: skip
    except TrainerError as error:
        raise TrialError(f"the gate could not ask the models: {error}") from error
    answers = [s.to_json() for s in report.scored]
    (work / "gate.json").write_text(json.dumps({**report.summary_json(), "answers": answers}, indent=2) + "\n", "utf-8")
    return {**report.summary_json(), "answers": [a for a in answers if a["group"] == CHANGED]}


def verdict(report: GateReport, settings: TrialSettings) -> tuple[str, str]:
    """The status and its one line: "improves its leaves by +0.18, no regression beyond 0.02"."""
    groups = {g.name: g for g in report.groups}
    changed = groups.get(CHANGED)
    gain = f"{changed.change:+.2f}" if changed else "+0.00"
    regressed = [g for name, g in groups.items() if name != CHANGED and g.change < -settings.max_regression]
    if regressed:
        worst = min(regressed, key=lambda g: g.change)
        return NO_GAIN, (f"no gain: {GROUP_TITLES[worst.name]} fall by {-worst.change:.2f}, beyond the "
                         f"{settings.max_regression:.2f} allowed (its leaves change by {gain})")  # fmt: skip
    if changed is None or changed.change < settings.min_gain:
        return NO_GAIN, (f"no gain: its leaves change by {gain} (needs {settings.min_gain:+.2f}), "
                         f"no regression beyond {settings.max_regression:.2f}")  # fmt: skip
    return IMPROVED, f"improves its leaves by {gain}, no regression beyond {settings.max_regression:.2f}"


@dataclass(frozen=True)
class TrialOutcome:
    result: dict[str, Any]  # what the posting job reads: see `result_json`
    work_dir: Path


def result_json(inputs: TrialInputs, journal: ReleaseJournal, status: str, line: str) -> dict[str, Any]:
    """The trial's result for the job that writes to the pull request: numbers, answers, nothing to run."""
    plan, data, trained = (journal.result(s) or {} for s in ("plan", "generate", "train"))
    gate = journal.result("gate")
    previous = plan.get("previous") or {}
    return {
        "kind": RESULT_KIND, "pull": inputs.pull, "base": plan.get("base"), "head": journal.taxonomy_commit,
        "status": status, "verdict": line, "leaves": plan.get("leaves", []),
        "release": previous.get("tag") or inputs.release.base_model,
        "records": data.get("records"), "replayed": data.get("replayed"),
        "replayed_seeds": data.get("replayed_seeds", 0), "steps": trained.get("steps"),
        "final_loss": trained.get("final_loss"),
        "gate": None if gate is None else {k: v for k, v in gate.items() if k != "done_at"},
    }  # fmt: skip


def run_trial(inputs: TrialInputs, edges: TrialEdges) -> TrialOutcome:
    """Every step not yet in the head's journal, in order; the result is written to `WORK/<head>/result.json`.

    A failed step is a result too (status `failed`, the reason as its verdict): the pull request hears of it.
    """
    started = edges.clock()
    repo, _ = open_repo(inputs.taxonomy_dir)
    try:
        head = resolve_commit(repo, inputs.head).hexsha
    except TaxonomyError as error:
        raise TrialError(f"{error}; fetch the pull request's head first") from error
    work = inputs.work_dir / head
    work.mkdir(parents=True, exist_ok=True)
    journal_path = work / TRIAL_JOURNAL
    journal = load_journal(journal_path, head)
    deadline = started + 60 * inputs.trial.max_minutes
    steps: dict[str, Callable[..., dict[str, Any]]] = {
        "plan": _plan, "generate": _generate, "gate": _gate,
        "train": lambda *args: _train(*args, deadline=deadline),
    }  # fmt: skip
    status, line = FAILED, ""
    try:
        for step in TRIAL_STEPS:
            if journal.result(step) is not None:
                edges.log(f"{step}: done earlier for {head[:7]}, skipped")
                continue
            edges.log(f"{step}: starting")
            result = steps[step](inputs, edges, journal, work)
            journal = journal.finished(step, result, edges.now().isoformat(timespec="seconds"))
            save_journal(journal_path, journal)
        gate = journal.result("gate") or {}
        status, line = verdict(GateReport.from_summary(gate), inputs.trial)
    except TrialStopped as stopped:
        status, line = STOPPED, str(stopped)
    except TrialError as error:
        status, line = FAILED, f"the trial failed: {error}"
    result = {**result_json(inputs, journal, status, line), "minutes": round((edges.clock() - started) / 60, 1)}
    (work / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return TrialOutcome(result, work)
