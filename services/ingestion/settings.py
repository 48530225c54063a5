"""Configuration of the ingestion service, read once from the environment.

* ``HOCBA_KAFKA_BOOTSTRAP``: Kafka bootstrap servers (``127.0.0.1:9092``)
* ``HOCBA_PG_DSN``: PostgreSQL DSN of vendors, tokens, assignments and ingested ids
  (``postgresql://hocba:hocba@127.0.0.1:5432/hocba``)
* ``HOCBA_INSTANCE_ID``: this replica's number, suffix of its transactional id (``0``)
* ``HOCBA_INGESTION_PORT``: HTTP port of POST /v1/events, /metrics, /healthz (``8081``)
* ``HOCBA_HTTP_HOST``: HTTP bind address (``127.0.0.1``)
* ``HOCBA_LOG_LEVEL``: level of the JSON logs (``WARNING``: one line per refused event)
* ``HOCBA_SCHOOL_CODE_PATTERN``: regex a school code (mã trường) must match in full
  (``[A-Za-z0-9._-]{1,32}``, as services.core.config.RuleConfig)
* ``HOCBA_STUDENT_ID_PATTERN``: regex a student id (mã định danh) must match in full
  (same default)
* ``HOCBA_IDENTIFIER_MAX_LENGTH``: longest school code or student id (``32``)
* ``HOCBA_MAX_FUTURE_SKEW_SECONDS``: how far ``occurred_at`` may be ahead of now (``300``)
* ``HOCBA_VENDOR_CACHE_TTL_SECONDS``: how long vendors and assignments are cached (``30``)
* ``HOCBA_INGESTION_MAX_BATCH``: messages per Kafka batch, one transaction (``2000``)
* ``HOCBA_TRANSFER_CACHE_TTL_SECONDS``: how long a student's recorded school transfers
  are cached (``30``); the process that accepted a transfer knows it at once
* ``HOCBA_TRANSFER_WINDOW_OPENS`` / ``HOCBA_TRANSFER_WINDOW_CLOSES``: ``MM-DD`` bounds of
  a StudentTransfer's ``effective_on``: from that day of the school year's first year
  (``08-01``) to that day of its second year (``08-31``: the school year and the summer
  after it). UNCONFIRMED: the law fixes no window; this is the platform's sanity bound.
* ``HOCBA_SCHOOL_YEAR_ENDS``: ``MM-DD`` of the school year's last day (``05-31``): an
  event of a school year is authorised against the student's school on the day it
  occurred or that day, whichever is earlier — a transfer in the summer leaves the
  finished year (its corrections included) with the sending school's vendor.
  UNCONFIRMED: MOET sets the calendar each year (the year ends by 31 May).
* ``HOCBA_TRANSFERS_TOPIC``: where accepted transfers are also published
  (``hocba.transfers``)

School codes and student ids are opaque strings whose format is UNCONFIRMED
(domain.md §7): the patterns are configuration, matched in full.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.core.config import RuleConfig
from services.messaging.kafka import KafkaSettings
from services.messaging.settings import DEFAULT_PG_DSN, SettingsError, env_number
from services.messaging.topics import EVENTS_ACCEPTED, EVENTS_REJECTED, TRANSFERS, VENDOR_EVENTS

__all__ = [
    "DEFAULT_PG_DSN",
    "EnvelopeRules",
    "IngestionSettings",
    "MonthDay",
    "SettingsError",
]

#: (month, day) of a calendar date, without the year.
MonthDay = tuple[int, int]

# The same defaults as validation's rules (services.core.config), so an identifier
# ingestion lets through is not refused later for its format.
_DEFAULT_SCHOOL_CODE_PATTERN = RuleConfig().school_code_pattern
_DEFAULT_STUDENT_ID_PATTERN = RuleConfig().student_id_pattern


@dataclass(frozen=True, slots=True)
class EnvelopeRules:
    """What the envelope checks accept (kiểm tra phong bì sự kiện)."""

    school_code_pattern: re.Pattern[str] = re.compile(_DEFAULT_SCHOOL_CODE_PATTERN)
    student_id_pattern: re.Pattern[str] = re.compile(_DEFAULT_STUDENT_ID_PATTERN)
    identifier_max_length: int = 32
    max_future_skew: dt.timedelta = dt.timedelta(minutes=5)
    #: A StudentTransfer's effective_on lies from this day of the school year's first
    #: year to ``transfer_window_closes`` of its second (the year and the summer after).
    transfer_window_opens: MonthDay = (8, 1)
    transfer_window_closes: MonthDay = (8, 31)
    #: The last day of a school year's teaching (in its second year): an event of a school
    #: year is judged against the student's school on that day at the latest, so a transfer
    #: in the summer leaves the finished year (and its corrections) with the sending school.
    school_year_ends: MonthDay = (5, 31)


@dataclass(frozen=True, slots=True)
class IngestionSettings:
    """Everything the ingestion service is configured with."""

    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    pg_dsn: str = DEFAULT_PG_DSN
    instance_id: str = "0"
    http_host: str = "127.0.0.1"
    http_port: int = 8081
    log_level: str = "WARNING"
    rules: EnvelopeRules = field(default_factory=EnvelopeRules)
    vendor_cache_ttl_s: float = 30.0
    max_batch: int = 2000
    #: Larger Kafka messages are rejected with E_MESSAGE_TOO_LARGE (Kafka's default limit).
    max_message_bytes: int = 1_048_576
    #: Larger HTTP batches are answered 413 E_BATCH_TOO_LARGE.
    max_http_events: int = 1000
    #: How long a database outage is retried before the Kafka entry gives up (and the
    #: service exits, to be restarted): the partition is never skipped.
    db_retry_budget_s: float = 60.0
    vendor_events_topic: str = VENDOR_EVENTS.name
    accepted_topic: str = EVENTS_ACCEPTED.name
    rejected_topic: str = EVENTS_REJECTED.name
    #: Accepted StudentTransfers are published here too (same value, key and headers).
    transfers_topic: str = TRANSFERS.name
    transfer_cache_ttl_s: float = 30.0
    group_id: str = "hocba-ingestion"

    @property
    def transactional_id(self) -> str:
        """One per replica: a restarted replica fences its own zombie, never another's."""
        return f"hocba-ingestion-{self.instance_id}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IngestionSettings:
        env = os.environ if environ is None else environ
        rules = EnvelopeRules(
            school_code_pattern=_pattern(
                env, "HOCBA_SCHOOL_CODE_PATTERN", _DEFAULT_SCHOOL_CODE_PATTERN
            ),
            student_id_pattern=_pattern(
                env, "HOCBA_STUDENT_ID_PATTERN", _DEFAULT_STUDENT_ID_PATTERN
            ),
            identifier_max_length=env_number(env, "HOCBA_IDENTIFIER_MAX_LENGTH", 32, int),
            max_future_skew=dt.timedelta(
                seconds=env_number(env, "HOCBA_MAX_FUTURE_SKEW_SECONDS", 300.0, float)
            ),
            transfer_window_opens=_month_day(env, "HOCBA_TRANSFER_WINDOW_OPENS", (8, 1)),
            transfer_window_closes=_month_day(env, "HOCBA_TRANSFER_WINDOW_CLOSES", (8, 31)),
            school_year_ends=_month_day(env, "HOCBA_SCHOOL_YEAR_ENDS", (5, 31)),
        )
        return cls(
            kafka=KafkaSettings.from_env(),
            pg_dsn=env.get("HOCBA_PG_DSN", DEFAULT_PG_DSN),
            instance_id=env.get("HOCBA_INSTANCE_ID", "0") or "0",
            http_host=env.get("HOCBA_HTTP_HOST", "127.0.0.1"),
            http_port=env_number(env, "HOCBA_INGESTION_PORT", 8081, int),
            log_level=env.get("HOCBA_LOG_LEVEL", "WARNING"),
            rules=rules,
            vendor_cache_ttl_s=env_number(env, "HOCBA_VENDOR_CACHE_TTL_SECONDS", 30.0, float),
            max_batch=env_number(env, "HOCBA_INGESTION_MAX_BATCH", 2000, int),
            transfers_topic=env.get("HOCBA_TRANSFERS_TOPIC", "").strip() or TRANSFERS.name,
            transfer_cache_ttl_s=env_number(env, "HOCBA_TRANSFER_CACHE_TTL_SECONDS", 30.0, float),
        )


def _pattern(env: Mapping[str, str], name: str, default: str) -> re.Pattern[str]:
    raw = env.get(name, default)
    try:
        return re.compile(raw)
    except re.error as exc:
        raise SettingsError(f"{name}={raw!r} is not a regular expression: {exc}") from exc


def _month_day(env: Mapping[str, str], name: str, default: MonthDay) -> MonthDay:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    month, _, day = raw.partition("-")
    try:
        # A leap year, so 02-29 is a day; the window's dates clamp it in other years.
        dt.date(2024, int(month), int(day))
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a day of the year written MM-DD") from None
    return int(month), int(day)
