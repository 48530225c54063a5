"""Errors of the local stack: one class per situation, each message one line saying what to do.

The CLI prints ``str(error)`` and exits non-zero, so every message names the
problem *and* the fix; nothing here is meant to be caught and ignored.
"""

from __future__ import annotations

__all__ = [
    "ChecksumMismatchError",
    "ConfigError",
    "DatabaseUnavailableError",
    "DiskFullError",
    "JavaMissingError",
    "MavenError",
    "MavenMissingError",
    "MavenRepositoryError",
    "MigrationError",
    "PortBusyError",
    "PostgresSetupError",
    "StackError",
    "StartTimeoutError",
    "TopicError",
]


class StackError(Exception):
    """Base class: the local stack cannot do what was asked."""


class ConfigError(StackError):
    """An environment variable holds a value the stack cannot use."""


class JavaMissingError(StackError):
    """No usable Java runtime for the Kafka broker."""


class MavenError(StackError):
    """Maven failed to fetch the Kafka jars."""


class MavenMissingError(MavenError):
    """The ``mvn`` command is not installed."""


class MavenRepositoryError(MavenError):
    """Maven ran but could not reach (or resolve from) its repository."""


class PortBusyError(StackError):
    """A port the stack needs is held by a program that is not ours."""


class DiskFullError(StackError):
    """Too little free space in the state directory (or ENOSPC while writing)."""


class StartTimeoutError(StackError):
    """A component did not answer within its bound (or died while starting)."""


class PostgresSetupError(StackError):
    """PostgreSQL could not be installed, initialised, started or prepared."""


class DatabaseUnavailableError(StackError):
    """The database named by ``HOCBA_PG_DSN`` does not accept connections."""


class TopicError(StackError):
    """The broker refused to create a topic."""


class MigrationError(StackError):
    """A migration file is malformed or failed to apply."""


class ChecksumMismatchError(MigrationError):
    """An already-applied migration file was edited afterwards."""
