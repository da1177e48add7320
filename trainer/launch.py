"""Start a training run in its own processes, one per GPU through torchrun, wait, and carry its exit code.

Used by `taxbot train --processes N` and by `taxbot release`. Stop signals that reach this process
(SIGTERM, SIGINT, SIGUSR1) are passed on; torchrun passes them to every rank and gives them time to save.
torchrun itself exits 1 after a signal, so a run counts as stopped (143) when its journal says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from trainer.callbacks import STOP_SIGNALS
from trainer.journal import JOURNAL_FILE, load_journal

EXIT_STOPPED = 143  # 128 + SIGTERM: a checkpoint is saved; the same command resumes
# How long torchrun waits for ranks to finish their step and save before it kills them. A full-state
# checkpoint of a 7-8B model with its optimiser state is ~100 GB to write.
STOP_GRACE_S = 900


def process_count(requested: int) -> int:
    """`requested` processes; 0 means one per visible GPU, or one where there is none."""
    if requested > 0:
        return requested
    import torch

    return torch.cuda.device_count() or 1


def train_command(config: Path, overrides: Sequence[str], processes: int) -> list[str]:
    """The command line of a run: the trainer itself for one process, under torchrun for several."""
    train = ["-m", "trainer", "train", "--config", str(config), *overrides]
    if processes == 1:
        return [sys.executable, *train]
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",  # a local rendezvous on a free port: two runs on one machine do not collide
        f"--nproc-per-node={processes}",
        f"--signals-to-handle={','.join(s.name for s in (*STOP_SIGNALS, signal.SIGHUP, signal.SIGQUIT))}",
        f"--shutdown-timeout={STOP_GRACE_S}",
        *train,
    ]


def launch(command: Sequence[str], run_dir: Path, taxonomy_commit: str) -> int:
    """Run `command` and wait; stop signals are passed on. Exit code 143 when the run stopped at a checkpoint."""
    started = time.time()
    # Its own session: a Ctrl-C in the terminal reaches the ranks once, through here, not twice.
    process = subprocess.Popen(list(command), start_new_session=True)

    def forward(signum: int, frame: FrameType | None) -> None:
        process.send_signal(signum)

    previous = {signum: signal.signal(signum, forward) for signum in STOP_SIGNALS}
    try:
        code = process.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if code != 0 and _stopped_since(run_dir, taxonomy_commit, started):
        return EXIT_STOPPED
    return code if code >= 0 else 128 - code  # killed by a signal: the shell's convention


def _stopped_since(run_dir: Path, taxonomy_commit: str, started: float) -> bool:
    path = run_dir / JOURNAL_FILE
    try:
        if os.stat(path).st_mtime < started:
            return False
        return load_journal(path, taxonomy_commit).was_stopped
    except (OSError, ValueError):
        return False
