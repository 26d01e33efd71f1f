"""User-facing errors.

Every problem a user can fix (a missing file, a bad value, a tampered checkpoint) raises a
subclass of :class:`MMVAEError` whose message names the problem *and* the fix. The CLI prints
such errors as one paragraph and exits non-zero; any other exception is a bug and keeps its
traceback.
"""
from __future__ import annotations


class MMVAEError(Exception):
    """Base class of errors whose message tells the user what to do."""

    exit_code = 2


class ConfigError(MMVAEError):
    """An invalid, unknown or contradictory configuration value."""


class DataError(MMVAEError):
    """A data file is missing, corrupt, or has the wrong layout or checksum."""


class CheckpointError(MMVAEError):
    """A checkpoint is missing, incomplete or has been altered."""


class NonFiniteLossError(MMVAEError):
    """Training produced a NaN or infinite loss under ``nan_policy='stop'``."""

    exit_code = 3


class OutputError(MMVAEError):
    """A file or folder could not be written."""
