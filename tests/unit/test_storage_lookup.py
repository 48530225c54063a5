"""Record lookup, pure parts: the limits (fake clock), birth dates, the views, and
:class:`RecordLookup` over a scripted store (floor, limits, outcomes, metrics)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from typing import Any

import pytest

from services.core.lookup_code import format_lookup_code
from services.messaging.metrics import ServiceMetrics
from services.messaging.settings import SettingsError
from services.storage.access import (
    AccessClient,
    ClientKind,
    Requester,
    client_address,
    forwarded_for,
    parse_trusted_proxies,
)
from services.storage.errors import StorageUnavailableError
from services.storage.lookup import (
    AccessEntry,
    AccessLog,
    AccessLogFound,
    BirthDateRequired,
    Found,
    InvalidCode,
    Locked,
    LookupLimits,
    LookupQuery,
    LookupView,
    NotFound,
    PdfFound,
    ReadBy,
    RecordLookup,
    Resource,
    StoreAnswer,
    Unavailable,
    parse_birth_date,
)
from services.storage.lookup_guard import (
    AttemptState,
    ClientGuard,
    ClientLimits,
    CodeLimits,
    after_attempt,
    code_retry_after,
)
from services.storage.lookup_store import page_view
from services.storage.metrics import StorageMetrics
from services.storage.settings import StorageSettings

pytestmark = pytest.mark.unit

CODE = format_lookup_code(0x1234_5678_9ABC_DEF0_1234)
BORN = "2015-08-06"
T0 = dt.datetime(2025, 6, 1, 8, 0, tzinfo=dt.UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    slept: list[float]


def _clock() -> FakeClock:
    clock = FakeClock()
    clock.slept = []
    return clock


# --- per-client guard -------------------------------------------------------------------


def test_token_bucket_allows_the_rate_then_refills_with_time() -> None:
    clock = _clock()
    guard = ClientGuard(ClientLimits(rate_per_minute=3), clock=clock)
    assert [guard.admit("a") for _ in range(3)] == [None, None, None]
    wait = guard.admit("a")
    assert wait is not None and wait == pytest.approx(20.0)
    assert guard.admit("b") is None  # another client has its own bucket
    clock.now += 20.0
    assert guard.admit("a") is None
    assert guard.admit("a") is not None


def test_failures_lock_a_client_out_for_the_lockout_then_it_is_let_in() -> None:
    clock = _clock()
    limits = ClientLimits(rate_per_minute=100, failures=3, failure_window_s=60, lockout_s=300)
    guard = ClientGuard(limits, clock=clock)
    assert [guard.failed("a"), guard.failed("a")] == [False, False]
    assert guard.admit("a") is None
    assert guard.failed("a") is True
    wait = guard.admit("a")
    assert wait == pytest.approx(300.0) and guard.retry_after("a") == pytest.approx(300.0)
    clock.now += 299.0
    assert guard.admit("a") == pytest.approx(1.0)
    clock.now += 1.0
    assert guard.admit("a") is None and guard.retry_after("a") is None


def test_failures_outside_the_window_are_forgotten() -> None:
    clock = _clock()
    guard = ClientGuard(ClientLimits(failures=3, failure_window_s=60), clock=clock)
    guard.failed("a")
    guard.failed("a")
    clock.now += 61.0
    assert guard.failed("a") is False  # the two earlier ones are out of the window
    assert guard.failed("a") is False
    assert guard.failed("a") is True


def test_the_guard_forgets_idle_clients_first_when_full() -> None:
    clock = _clock()
    guard = ClientGuard(ClientLimits(failures=2, lockout_s=600), clock=clock, max_clients=3)
    guard.failed("bad")
    guard.failed("bad")  # locked out
    guard.admit("idle-1")
    guard.admit("idle-2")
    clock.now += 120.0  # the idle clients' buckets are full again
    guard.admit("new")
    assert len(guard) <= 3
    assert guard.retry_after("bad") is not None  # a locked client is never forgotten first


def test_client_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        ClientLimits(rate_per_minute=0)
    with pytest.raises(ValueError):
        CodeLimits(lockout_s=0)


# --- per-code state ---------------------------------------------------------------------


def test_code_locks_after_the_failures_in_the_window_and_stays_locked() -> None:
    limits = CodeLimits(failures=3, window_s=900, lockout_s=600)
    state = AttemptState(0, T0)
    for minute in range(2):
        state = after_attempt(state, False, T0 + dt.timedelta(minutes=minute), limits)
        assert not state.locked(T0 + dt.timedelta(minutes=minute))
    assert state.failures == 2
    now = T0 + dt.timedelta(minutes=2)
    state = after_attempt(state, False, now, limits)
    assert state.locked(now) and code_retry_after(state, now) == 600
    # While locked: the right birth date neither succeeds nor unlocks; failures don't extend.
    later = now + dt.timedelta(minutes=5)
    assert after_attempt(state, True, later, limits) == state
    assert after_attempt(state, False, later, limits) == state
    assert code_retry_after(state, later) == 300
    ended = now + dt.timedelta(minutes=10)
    assert code_retry_after(state, ended) is None
    assert after_attempt(state, False, ended, limits) == AttemptState(1, ended)


def test_code_failures_restart_after_the_window_and_a_success_clears_them() -> None:
    limits = CodeLimits(failures=3, window_s=60, lockout_s=600)
    state = after_attempt(AttemptState(0, T0), False, T0, limits)
    state = after_attempt(state, False, T0 + dt.timedelta(seconds=30), limits)
    assert state == AttemptState(2, T0)
    state = after_attempt(state, False, T0 + dt.timedelta(seconds=61), limits)
    assert state == AttemptState(1, T0 + dt.timedelta(seconds=61))
    cleared = after_attempt(state, True, T0 + dt.timedelta(seconds=62), limits)
    assert cleared == AttemptState(0, T0 + dt.timedelta(seconds=62))


def test_retry_after_rounds_up_to_whole_seconds() -> None:
    state = AttemptState(0, T0, T0 + dt.timedelta(seconds=10, milliseconds=1))
    assert code_retry_after(state, T0) == 11
    assert code_retry_after(state, T0 + dt.timedelta(seconds=10, microseconds=999)) == 1


# --- birth dates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2015-08-06", dt.date(2015, 8, 6)),
        (" 2015-08-06 ", dt.date(2015, 8, 6)),
        ("2016-02-29", dt.date(2016, 2, 29)),
        ("2015-02-29", None),
        ("2015-8-6", None),
        ("06/08/2015", None),
        ("20150806", None),
        ("2015-08-06T00:00", None),
        ("", None),
        (None, None),
        ("２０１５-08-06", None),
    ],
)
def test_birth_date_is_an_iso_calendar_date(text: str | None, expected: dt.date | None) -> None:
    assert parse_birth_date(text) == expected


# --- views ------------------------------------------------------------------------------


def _row(school_year: str, version: int, **changes: Any) -> dict[str, Any]:
    signatures = [
        {
            "role": role,
            "signer_name": name,
            "certificate_sha256": "00" * 32,
            "signed_at": "2025-05-25T09:25:00+00:00",
        }
        for role, name in (
            ("HOMEROOM_TEACHER", "Trần Văn Giáo"),
            ("PRINCIPAL", "Phạm Thị Hiệu"),
            ("SCHOOL_SEAL", "Trường Tiểu học Võ Thị Sáu"),
        )
    ]
    return {
        "school_year": school_year,
        "version": version,
        "grade": 5,
        "school_code": "79000701",
        "lookup_code": CODE,
        "year_result": "HTT",
        "school_name": "Trường Tiểu học Võ Thị Sáu",
        "student_name": "Nguyễn Thị Minh Anh",
        "completion_status": "COMPLETED",
        "effective_at": T0,
        "signatures": json.dumps(signatures),
        "superseded_versions": version - 1,
        **changes,
    }


def test_page_view_of_the_named_page_and_of_another_page() -> None:
    named = page_view(_row("2024-2025", 2), "2024-2025", CODE)
    assert named.is_named_page and named.lookup_code == CODE
    assert named.pdf_path == f"/v1/records/{CODE}/pdf"
    assert named.signed_complete and named.superseded_versions == 1
    assert named.completion_statement == "Hoàn thành chương trình tiểu học"
    other = page_view(_row("2023-2024", 1, grade=4, lookup_code="OTHER"), "2024-2025", CODE)
    assert not other.is_named_page and other.lookup_code is None and other.pdf_path is None
    assert other.completion_statement == "Hoàn thành chương trình lớp học"
    # A record id names every page, each with its own code.
    by_id = page_view(_row("2023-2024", 1, lookup_code="ITS-OWN"), None, "HB0000000000000000")
    assert by_id.is_named_page and by_id.lookup_code == "ITS-OWN"


def test_a_page_without_the_seal_is_not_signed_complete() -> None:
    row = _row("2024-2025", 1)
    row["signatures"] = json.dumps(json.loads(row["signatures"])[:2])
    assert not page_view(row, "2024-2025", CODE).signed_complete


def test_the_view_json_has_what_a_school_needs_and_nothing_personal() -> None:
    view = LookupView("Nguyễn Thị Minh Anh", (page_view(_row("2024-2025", 1), "2024-2025", CODE),))
    body = view.as_json()
    (page,) = body["pages"]
    assert set(body) == {"student_name", "pages"}
    assert set(page) == {
        "school_year",
        "grade",
        "school_code",
        "school_name",
        "year_result",
        "completion_statement",
        "version",
        "effective_at",
        "signatures",
        "signed_complete",
        "superseded_versions",
        "is_named_page",
        "lookup_code",
        "pdf_path",
    }
    assert page["signatures"][0] == {
        "role": "HOMEROOM_TEACHER",
        "signer_name": "Trần Văn Giáo",
        "signed_at": "2025-05-25T09:25:00.000Z",
    }
    assert page["effective_at"] == "2025-06-01T08:00:00.000Z"
    text = json.dumps(body, ensure_ascii=False)
    assert "record_id" not in text and "HB" not in text and "date_of_birth" not in text


# --- RecordLookup over a scripted store -------------------------------------------------


def _view() -> LookupView:
    return LookupView("Nguyễn Thị Minh Anh", (page_view(_row("2024-2025", 1), "2024-2025", CODE),))


class ScriptedStore:
    """Answers what it is told, records what it was asked; ``delay`` seconds per read."""

    def __init__(self, clock: FakeClock, answer: StoreAnswer, delay: float = 0.01) -> None:
        self.clock = clock
        self.answer = answer
        self.delay = delay
        self.reads: list[tuple[LookupQuery, ReadBy]] = []
        self.invalid: list[tuple[str, Resource, ReadBy]] = []
        self.down = False

    async def read(self, query: LookupQuery, by: ReadBy) -> StoreAnswer:
        if self.down:
            raise StorageUnavailableError("down")
        self.clock.now += self.delay
        self.reads.append((query, by))
        return self.answer

    async def audit_invalid(self, typed: str, resource: Resource, by: ReadBy) -> None:
        if self.down:
            raise StorageUnavailableError("down")
        self.invalid.append((typed, resource, by))


def _lookup(
    answer: StoreAnswer, limits: LookupLimits | None = None
) -> tuple[RecordLookup, ScriptedStore, FakeClock, StorageMetrics]:
    clock = _clock()
    store = ScriptedStore(clock, answer)
    metrics = StorageMetrics(ServiceMetrics("storage"))
    lookup = RecordLookup(store, metrics, limits, clock=clock, sleep=clock.sleep)
    return lookup, store, clock, metrics


def _sample(metrics: StorageMetrics, name: str, **labels: str) -> float:
    value = metrics.shared.registry.get_sample_value(name, {"service": "storage", **labels})
    return value or 0.0


ANON = Requester("203.0.113.7", "pytest")
NATIONAL = AccessClient("csdl", ClientKind.NATIONAL_DB, "CSDL ngành", frozenset())
SCHOOL = AccessClient("th-vts", ClientKind.SCHOOL, "TH Võ Thị Sáu", frozenset({"79000701"}))


async def test_found_is_answered_no_sooner_than_the_floor() -> None:
    lookup, store, clock, metrics = _lookup(StoreAnswer("found", view=_view()))
    started = clock.now
    outcome = await lookup.look_up(CODE.lower(), BORN, ANON)
    assert isinstance(outcome, Found) and outcome.view.student_name == "Nguyễn Thị Minh Anh"
    assert clock.now - started == pytest.approx(0.25)
    ((query, by),) = store.reads
    assert (query.code.value, query.resource, query.birth_date) == (
        CODE,
        "record",
        dt.date(2015, 8, 6),
    )
    assert by.actor == "http:203.0.113.7" and by.client_id is None and by.purpose is None
    assert by.detail["code"] == CODE and by.detail["channel"] == "api"
    labels = {"resource": "record", "channel": "api", "outcome": "found"}
    assert _sample(metrics, "hocba_storage_lookups_total", **labels) == 1


async def test_not_found_and_locked_are_floored_too_and_a_slow_store_is_not_slowed() -> None:
    lookup, store, clock, _ = _lookup(StoreAnswer("not_found"))
    started = clock.now
    assert isinstance(await lookup.look_up(CODE, BORN, ANON), NotFound)
    assert clock.now - started == pytest.approx(0.25)
    store.answer = StoreAnswer("locked", retry_after_s=42)
    started = clock.now
    assert await lookup.pdf(CODE, BORN, ANON) == Locked(42)
    assert clock.now - started == pytest.approx(0.25)
    store.delay = 0.4
    store.answer = StoreAnswer("not_found")
    started = clock.now
    assert isinstance(await lookup.access_log(CODE, BORN, ANON), NotFound)
    assert clock.now - started == pytest.approx(0.4)


async def test_no_birth_date_is_refused_before_anything_and_without_the_floor() -> None:
    lookup, store, clock, metrics = _lookup(StoreAnswer("found", view=_view()))
    for given in (None, "", "06/08/2015", "2015-13-01"):
        started = clock.now
        assert isinstance(await lookup.look_up(CODE, given, ANON), BirthDateRequired)
        assert clock.now == started
    assert store.reads == [] and store.invalid == []
    labels = {"resource": "record", "channel": "api", "outcome": "birth_date_required"}
    assert _sample(metrics, "hocba_storage_lookups_total", **labels) == 4


async def test_a_mistyped_code_is_audited_and_counts_against_the_client() -> None:
    limits = LookupLimits(client=ClientLimits(failures=2))
    lookup, store, clock, metrics = _lookup(StoreAnswer("not_found"), limits)
    wrong_check = CODE[:-1] + ("0" if CODE[-1] != "0" else "1")
    started = clock.now
    assert isinstance(await lookup.look_up(wrong_check, BORN, ANON), InvalidCode)
    assert clock.now == started  # nothing to hide: no floor
    ((typed, resource, by),) = store.invalid
    assert (typed, resource, by.detail["error"]) == (wrong_check, "record", "E_LOOKUP_CODE_INVALID")
    assert isinstance(await lookup.look_up(CODE, BORN, ANON), NotFound)  # 2nd failure: locked
    assert isinstance(await lookup.look_up(CODE, BORN, ANON), Locked)
    assert len(store.reads) == 1
    assert _sample(metrics, "hocba_storage_lookup_lockouts_total", scope="client") == 1


async def test_a_client_over_its_rate_is_limited_without_touching_the_store() -> None:
    limits = LookupLimits(client=ClientLimits(rate_per_minute=2))
    lookup, store, clock, metrics = _lookup(StoreAnswer("found", view=_view()), limits)
    assert isinstance(await lookup.look_up(CODE, BORN, ANON), Found)
    assert isinstance(await lookup.look_up(CODE, BORN, ANON), Found)
    started = clock.now
    limited = await lookup.look_up(CODE, BORN, ANON)
    assert isinstance(limited, Locked) and 1 <= limited.retry_after_s <= 30
    assert clock.now - started == pytest.approx(0.25)
    assert len(store.reads) == 2
    labels = {"resource": "record", "channel": "api", "outcome": "limited"}
    assert _sample(metrics, "hocba_storage_lookups_total", **labels) == 1
    # Another address is not limited by this one.
    other = Requester("198.51.100.1", "pytest")
    assert isinstance(await lookup.look_up(CODE, BORN, other), Found)


async def test_a_code_lock_is_counted_once() -> None:
    lookup, _, _, metrics = _lookup(StoreAnswer("not_found", locked_now=True))
    assert isinstance(await lookup.look_up(CODE, BORN, ANON), NotFound)
    assert _sample(metrics, "hocba_storage_lookup_lockouts_total", scope="code") == 1


async def test_the_national_database_fetches_a_pdf_without_birth_date_or_limits() -> None:
    pdf = PdfFound(b"%PDF", "ab" * 32, "2024-2025", 1, f"hocba-{CODE}-v1.pdf")
    limits = LookupLimits(client=ClientLimits(rate_per_minute=1, failures=1))
    lookup, store, _, _ = _lookup(StoreAnswer("found", pdf=pdf), limits)
    national = Requester("10.0.0.5", "sync", NATIONAL)
    for _ in range(3):
        assert await lookup.pdf(CODE, None, national, version=1) == pdf
    query, by = store.reads[0]
    assert query.birth_date is None and query.version == 1
    assert by.client_id == "csdl" and by.actor == "client:csdl"
    # ... but not the record itself, and a school client needs the birth date too.
    assert isinstance(await lookup.look_up(CODE, None, national), BirthDateRequired)
    school = Requester("10.0.0.6", "vendor", SCHOOL)
    assert isinstance(await lookup.pdf(CODE, None, school), BirthDateRequired)


async def test_a_clients_purpose_is_kept_an_anonymous_one_is_not() -> None:
    lookup, store, _, _ = _lookup(StoreAnswer("found", view=_view()))
    school = Requester("10.0.0.6", "vendor", SCHOOL, "api")
    await lookup.look_up(CODE, BORN, school, purpose="  Tiếp nhận học sinh chuyển trường ")
    await lookup.look_up(CODE, BORN, ANON, purpose="Công an điều tra")
    (_, by_school), (_, by_anon) = store.reads
    assert (by_school.client_id, by_school.purpose) == (
        "th-vts",
        "Tiếp nhận học sinh chuyển trường",
    )
    assert by_anon.purpose is None


async def test_the_web_channel_is_counted_apart_and_an_outage_is_unavailable() -> None:
    log = AccessLog("Nguyễn Thị Minh Anh", ())
    lookup, store, clock, metrics = _lookup(StoreAnswer("found", log=log))
    web_requester = Requester("203.0.113.9", "browser", None, "web")
    assert await lookup.access_log(CODE, BORN, web_requester) == AccessLogFound(log)
    labels = {"resource": "access_log", "channel": "web", "outcome": "found"}
    assert _sample(metrics, "hocba_storage_lookups_total", **labels) == 1
    store.down = True
    started = clock.now
    assert isinstance(await lookup.look_up(CODE, BORN, web_requester), Unavailable)
    assert clock.now - started == pytest.approx(0.25)
    assert isinstance(await lookup.look_up("nope", BORN, web_requester), Unavailable)


def test_access_log_json_names_clients_and_holders_never_addresses() -> None:
    entries = (
        AccessEntry(T0, "READ", "SCHOOL", "TH Võ Thị Sáu", "Tiếp nhận học sinh", "2024-2025"),
        AccessEntry(T0, "READ", None, None, None, None),
    )
    body = AccessLog("Nguyễn Thị Minh Anh", entries).as_json()
    school, holder = body["entries"]
    assert (school["reader_vi"], school["purpose"]) == ("TH Võ Thị Sáu", "Tiếp nhận học sinh")
    assert (holder["reader_vi"], holder["reader_en"]) == (
        "người có mã tra cứu",
        "holder of the lookup code",
    )
    assert holder["at"] == "2025-06-01T08:00:00.000Z" and body["truncated"] is False
    assert AccessLog("x", entries, truncated=True).as_json()["truncated"]


# -- the client's address behind trusted proxies ------------------------------------------


def test_the_client_address_is_taken_from_x_forwarded_for_only_behind_a_trusted_proxy() -> None:
    proxies = parse_trusted_proxies("10.0.0.0/8, 192.168.1.7")
    # No proxies configured, or a peer that is not one: the header is ignored (forgeable).
    assert client_address("203.0.113.5", "198.51.100.1", ()) == "203.0.113.5"
    assert client_address("203.0.113.5", "198.51.100.1", proxies) == "203.0.113.5"
    # Behind the ingress: the nearest hop that is not a trusted proxy.
    assert client_address("10.1.2.3", "198.51.100.1", proxies) == "198.51.100.1"
    assert client_address("10.1.2.3", "6.6.6.6, 198.51.100.1, 192.168.1.7", proxies) == (
        "198.51.100.1"
    )
    # Only proxies in the chain: the first of them; no header: the peer.
    assert client_address("10.1.2.3", "10.9.9.9", proxies) == "10.9.9.9"
    assert client_address("10.1.2.3", "", proxies) == "10.1.2.3"
    assert client_address(None, "", proxies) == "unknown"
    with pytest.raises(ValueError):
        parse_trusted_proxies("10.0.0.0/8, not-an-address")
    with pytest.raises(SettingsError):
        StorageSettings.from_env({"HOCBA_TRUSTED_PROXIES": "10.0.0.0/33"})
    assert StorageSettings.from_env({"HOCBA_TRUSTED_PROXIES": "10.0.0.0/8"}).trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
    )


async def test_the_middleware_hands_the_forwarded_client_to_every_route() -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    async def echo(request: web.Request) -> web.Response:
        return web.Response(text=request.remote or "")

    def app(proxies: str) -> web.Application:
        built = web.Application(middlewares=[forwarded_for(parse_trusted_proxies(proxies))])
        built.router.add_get("/", echo)
        return built

    for proxies, seen in (("127.0.0.1", "198.51.100.1"), ("", "127.0.0.1")):
        async with TestClient(TestServer(app(proxies), host="127.0.0.1")) as client:
            answer = await client.get("/", headers={"X-Forwarded-For": "198.51.100.1"})
            assert await answer.text() == seen
