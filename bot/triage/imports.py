"""Importing the triage libraries without the heavy optional packages they would pull in for nothing."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def without(*names: str) -> Iterator[None]:
    """Imports inside see `names` as not installed, unless something already imported them.

    Presidio's transformers engine and spaCy's thinc import torch and transformers when they can, and
    scikit-learn imports pandas: seconds each, where a blank tokenizer and a linear classifier use none
    of them. Each does it inside `try ... except ImportError`, which a None entry in sys.modules answers;
    the entries are gone afterwards, so a later import of the real package works as usual.
    """
    blocked = [name for name in names if name not in sys.modules]
    for name in blocked:
        sys.modules[name] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        for name in blocked:
            del sys.modules[name]
