"""The ingestion package's public surface, configuration and codes."""

from __future__ import annotations

import datetime as dt
import importlib
import re
from pathlib import Path

import pytest

import services.ingestion
from services.core.findings import CATALOGUE
from services.ingestion.settings import IngestionSettings, SettingsError

pytestmark = pytest.mark.unit

PACKAGE = Path(services.ingestion.__file__).parent


def test_public_surface() -> None:
    assert sorted(services.ingestion.__all__) == [
        "EnvelopeRules",
        "Ingestion",
        "IngestionSettings",
        "bootstrap",
        "main",
    ]
    for path in sorted(PACKAGE.glob("*.py")):
        if path.stem in ("__init__", "__main__"):
            continue
        module = importlib.import_module(f"services.ingestion.{path.stem}")
        exported = getattr(module, "__all__", None)
        assert exported, f"{path.name} has no __all__"
        for name in exported:
            assert hasattr(module, name), f"{path.name} exports missing {name}"


def test_every_code_ingestion_emits_is_catalogued() -> None:
    sources = [*PACKAGE.glob("*.py"), PACKAGE.parent / "messaging" / "codec.py"]
    emitted = {m for p in sources for m in re.findall(r'"(E_[A-Z_]+)"', p.read_text())}
    assert emitted >= {"E_TOKEN_MISSING", "E_SCHOOL_NOT_ASSIGNED", "E_EVENT_ID_REUSED"}
    assert emitted - set(CATALOGUE) == set()


def test_sql_lives_only_in_the_repository_module() -> None:
    for path in PACKAGE.glob("*.py"):
        if path.name != "vendors.py":
            assert not re.search(r"\b(SELECT|INSERT INTO|UPDATE \w+ SET)\b", path.read_text()), path


def test_settings_from_the_environment() -> None:
    settings = IngestionSettings.from_env(
        {
            "HOCBA_PG_DSN": "postgresql://x@db/hocba",
            "HOCBA_INSTANCE_ID": "3",
            "HOCBA_INGESTION_PORT": "9000",
            "HOCBA_HTTP_HOST": "0.0.0.0",
            "HOCBA_SCHOOL_CODE_PATTERN": "[0-9]{8}",
            "HOCBA_MAX_FUTURE_SKEW_SECONDS": "60",
        }
    )
    assert settings.transactional_id == "hocba-ingestion-3"
    assert settings.group_id == "hocba-ingestion"
    assert (settings.http_host, settings.http_port) == ("0.0.0.0", 9000)
    assert settings.rules.school_code_pattern.pattern == "[0-9]{8}"
    assert settings.rules.max_future_skew == dt.timedelta(seconds=60)
    defaults = IngestionSettings.from_env({})
    assert defaults.transactional_id == "hocba-ingestion-0" and defaults.http_port == 8081


@pytest.mark.parametrize(
    "env",
    [
        {"HOCBA_INGESTION_PORT": "http"},
        {"HOCBA_STUDENT_ID_PATTERN": "[unclosed"},
        {"HOCBA_MAX_FUTURE_SKEW_SECONDS": "-1"},
    ],
)
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        IngestionSettings.from_env(env)
