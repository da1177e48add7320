"""`taxbot train --config FILE [dotted.key=value ...]`: the one place errors become exit codes."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STOPPED = 143  # 128 + SIGTERM (also for SIGINT, SIGUSR1): checkpoint saved, phase not finished; rerun to resume

log = logging.getLogger("taxbot.trainer")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taxbot train",
        description="Fine-tune the student model on a taxonomy's phase sets (LAB: knowledge, then skills).",
        epilog="Example: taxbot train --config trainer/configs/phase1.yaml data.phase1=K.jsonl "
        "data.phase2=S.jsonl model.name_or_path=DIR",
    )
    parser.add_argument("--config", required=True, type=Path, help="YAML config, e.g. trainer/configs/phase1.yaml")
    parser.add_argument(
        "--processes",
        type=_processes,
        default=1,
        metavar="N|auto",
        help="train in N processes through torchrun (auto: one per visible GPU, one on a CPU); default 1",
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="dotted.key=value",
        help="override a config value, e.g. phase1.epochs=3",
    )
    return parser


def _processes(text: str) -> int:
    if text == "auto":
        return 0
    if text.isdigit() and int(text) >= 1:
        return int(text)
    raise argparse.ArgumentTypeError(f"must be a number of processes (1 or more) or auto, not {text!r}")


def main(argv: list[str]) -> int:
    """Run `taxbot train`; argv is what follows `taxbot` (a leading `train` is accepted and skipped)."""
    if argv[:1] == ["train"]:
        argv = argv[1:]
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on a usage error, 0 after --help
        return int(exc.code or 0)
    # Imported here so that `--help` and config errors answer at once, without loading torch.
    from trainer.config import load_config
    from trainer.errors import ConfigError, TrainerError

    try:
        config = load_config(args.config, args.overrides)
    except ConfigError as exc:
        print(f"taxbot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _configure_logging()
    from trainer.launch import launch, process_count, train_command  # loads transformers: after the config
    from trainer.run import run_training

    try:
        processes = process_count(args.processes)
        if processes > 1:
            log.info("training in %d processes through torchrun", processes)
            run_dir = Path(config.run.output_dir) / config.run.taxonomy_commit
            return launch(train_command(args.config, args.overrides, processes), run_dir, config.run.taxonomy_commit)
        outcome = run_training(config, interactive=sys.stderr.isatty())
    except ConfigError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    except TrainerError as exc:
        log.error("%s", exc)
        return EXIT_FAILED
    except Exception:
        log.exception("training failed unexpectedly")
        return EXIT_FAILED
    if not outcome.finished:
        log.warning(
            "stopped by %s; checkpoint %s; rerun the same command to resume", outcome.stopped_by, outcome.checkpoint
        )
        return EXIT_STOPPED
    log.info("done: %s", outcome.final_dir)
    return EXIT_OK


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Progress lines show even when the caller configured logging first; under torchrun only rank 0's.
    log.setLevel(logging.INFO if int(os.environ.get("RANK", "0")) == 0 else logging.WARNING)
    from datasets.utils.logging import disable_progress_bar as disable_datasets_bars
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_warning()
    if not sys.stderr.isatty():
        transformers_logging.disable_progress_bar()  # no shard-writing bars in CI logs
        disable_datasets_bars()
