"""Loss curves: step/loss points from the Trainer's log history, saved as JSON and as a PNG."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

CURVES_JSON = "loss_curves.json"
CURVES_PNG = "loss_curves.png"

LossCurve = list[tuple[int, float]]


def loss_points(log_history: Iterable[Mapping[str, Any]]) -> LossCurve:
    """The training-loss entries of a Trainer log history, as (step, loss) in step order."""
    points = {int(entry["step"]): float(entry["loss"]) for entry in log_history if "loss" in entry}
    return sorted(points.items())


def write_curves(run_dir: Path, curves: Mapping[str, LossCurve]) -> tuple[Path, Path]:
    """Save every phase's curve as JSON ({phase: [{step, loss}]}) and one PNG with a line per phase."""
    json_path, png_path = run_dir / CURVES_JSON, run_dir / CURVES_PNG
    payload = {phase: [{"step": step, "loss": loss} for step, loss in points] for phase, points in curves.items()}
    json_path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    figure = Figure(figsize=(7, 4), dpi=100)
    FigureCanvasAgg(figure)  # the Agg canvas attaches itself; no pyplot, no display needed
    axes = figure.add_subplot()
    for phase, points in curves.items():
        axes.plot([step for step, _ in points], [loss for _, loss in points], label=phase)
    axes.set_xlabel("optimiser step (per phase)")
    axes.set_ylabel("training loss")
    axes.legend()
    figure.tight_layout()
    figure.savefig(png_path)
    return json_path, png_path
