"""Exit codes, and the base of every error that means "not possible as asked" (exit code 2)."""

EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_STOPPED = 143  # 128 + SIGTERM: training checkpointed; rerun `taxbot release` to resume


class UsageError(Exception):
    """Bad input, a missing setting, a commit that is not there; the message says what to change."""
