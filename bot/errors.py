"""The base of every error that means "not possible as asked": the command line turns it into exit code 2."""


class UsageError(Exception):
    """Bad input, a missing setting, a commit that is not there; the message says what to change."""
