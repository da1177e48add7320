#!/usr/bin/env bash
# Regenerate the hashed locks the actions install from (jobs that hold secrets install nothing unpinned).
# Run from the repository root after changing dependencies in pyproject.toml; needs `uv`.
set -euo pipefail
cd "$(dirname "$0")/../.."
common=(--generate-hashes --python-version 3.11 --python-platform x86_64-unknown-linux-gnu --no-header)
uv pip compile pyproject.toml "${common[@]}" -o actions/requirements/taxbot.lock
uv pip compile pyproject.toml --extra train "${common[@]}" -o actions/requirements/taxbot-train.lock
