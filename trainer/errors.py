"""Typed errors of the trainer; the CLI turns each into a log line and an exit code."""

from __future__ import annotations


class TrainerError(Exception):
    """A problem the person running the trainer can fix; the message says how."""


class ConfigError(TrainerError):
    """The config file or a command-line override is wrong (every problem listed)."""


class DataError(TrainerError):
    """A phase set has records that are not InstructLab training records (file and line named)."""


class TemplateError(TrainerError):
    """The model's chat template cannot be used to locate the turns of a conversation."""


class JournalError(TrainerError):
    """The run journal disagrees with the run being asked for."""
