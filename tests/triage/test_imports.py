"""Blocking optional packages during an import: absent inside, untouched outside."""

from __future__ import annotations

import json
import sys

import pytest

from bot.triage.imports import without


def test_a_blocked_package_cannot_be_imported_inside_and_can_afterwards() -> None:
    sys.modules.pop("colorsys", None)
    with without("colorsys"), pytest.raises(ImportError):
        import colorsys
    import colorsys

    assert colorsys.rgb_to_hsv(1, 0, 0)[0] == 0


def test_a_package_already_imported_stays() -> None:
    with without("json"):
        import json as again
    assert again is json and sys.modules["json"] is json
