"""Reading service settings from the environment: the parts every service shares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

__all__ = ["DEFAULT_PG_DSN", "SettingsError", "env_number"]

DEFAULT_PG_DSN = "postgresql://hocba:hocba@127.0.0.1:5432/hocba"

_Number = TypeVar("_Number", int, float)


class SettingsError(ValueError):
    """An environment variable has a value the service cannot use."""


def env_number(env: Mapping[str, str], name: str, default: _Number, kind: type[_Number]) -> _Number:
    """A non-negative number from ``env[name]``; ``default`` when unset or blank."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError as exc:
        what = "a whole number" if kind is int else "a number"
        raise SettingsError(f"{name}={raw!r} must be {what}") from exc
    if value < 0:
        raise SettingsError(f"{name}={raw!r} must not be negative")
    return value
