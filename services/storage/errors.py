"""What can go wrong when storing, as precise exception classes.

The repository translates every driver error at its boundary (by class and SQLSTATE,
never by message text) into one of these, so callers decide by type:

* :class:`StorageUnavailableError` — transient: connection lost, server shutting down,
  serialization failure or deadlock, too many connections, a constraint race between
  replicas. Retry the whole batch transaction.
* :class:`StorageDataError` — the database refuses a value (SQLSTATE class 22 or 54, a
  CHECK or NOT NULL constraint). Permanent for that message: isolate it and refuse it
  with a coded reason.
"""

from __future__ import annotations

import asyncpg

__all__ = [
    "StorageDataError",
    "StorageError",
    "StorageUnavailableError",
    "translate_db_error",
]

# SQLSTATE classes (first two characters) and codes worth retrying.
_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "23"})
_TRANSIENT_CODES = frozenset({"57P01", "57P02", "57P03", "55P03", "57014"})
_DATA_CLASSES = frozenset({"22", "54"})
# Integrity violations that no race explains: the row itself breaks a rule
# (restrict_violation: the append-only triggers; not_null_violation; check_violation).
_DATA_CODES = frozenset({"23001", "23502", "23514"})


class StorageError(Exception):
    """A storage operation failed; ``sqlstate`` when the server answered."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class StorageUnavailableError(StorageError):
    """Worth retrying: the database is unreachable, busy, or lost a race."""


class StorageDataError(StorageError):
    """The database refuses a value: retrying the same data fails the same way."""


def translate_db_error(exc: BaseException, operation: str) -> StorageError:
    """Classify a driver or network error; anything unexpected is a plain :class:`StorageError`.

    Unique and foreign-key violations (class 23) are transient here: the store
    serialises writers per student, so one can only come from a race with another
    replica (e.g. a zombie during a rebalance), and the retried transaction reads the
    winner's rows. A CHECK, NOT NULL or append-only (restrict) violation is the row's own
    fault: a data error.
    """
    if isinstance(exc, OSError | TimeoutError | asyncpg.PostgresConnectionError):
        state = getattr(exc, "sqlstate", None)
        return StorageUnavailableError(f"{operation}: database unreachable: {exc!r}", state)
    if isinstance(exc, asyncpg.PostgresError):
        state = str(exc.sqlstate or "")
        message = f"{operation}: {type(exc).__name__} ({state}): {exc}"
        if state in _DATA_CODES or state[:2] in _DATA_CLASSES:
            return StorageDataError(message, state)
        if state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_CODES:
            return StorageUnavailableError(message, state)
        return StorageError(message, state)
    if isinstance(exc, asyncpg.InterfaceError):
        return StorageError(f"{operation}: driver misuse: {exc}", None)
    return StorageError(f"{operation}: {type(exc).__name__}: {exc}", None)
