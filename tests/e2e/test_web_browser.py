"""The record pages in a real browser: headless Chromium against the platform's processes.

Two generated grade-5 student-years go through ingestion → validation → signing (the dev
PKI: teacher, principal, school seal, document timestamp) → storage, as processes; one is
then corrected (RecordCorrection with a reason, version 2 approved), so its version 1 is
superseded. Then Debian's chromium, driven by its chromedriver through Selenium (no browser
is downloaded), does what a parent and a receiving school do:

* looks the corrected record up with the right birth date (name, result, the signature
  timeline, "đã ký đủ"), also in a phone-sized window; with a wrong birth date and with an
  unknown code it sees the same "not found" page; after five failures the code is locked;
* switches to English; opens ``/tra-cuu/{code}`` (what the QR code printed on the page
  encodes; the URL is built from the lookup code and checked against the page's text);
  downloads the PDF (POST, birth date in the body) and reads the access log;
* uploads the current PDF (valid and in force), the same PDF with one byte of the page
  content changed (not valid: a signature broken) and version 1 (valid but corrected, by
  version 2, with its reason).

Every step saves a screenshot in artifacts/e2e/screenshots/<test>-<step>.png and checks the
page's markup in the DOM (``<html lang>``, one ``<h1>``, a label for every control, no
``<script>``, the inline style sheet applied under the Content-Security-Policy).

The services use a PostgreSQL schema of this module and ports of their own; the pipeline's
topics and consumer groups are the platform's (as in test_pipeline_e2e.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import secrets
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from services.cli.demo import (
    OutcomeWatch,
    approval_events,
    prepare_vendor,
    publish_kafka,
    school_year,
)
from services.cli.supervisor import ServiceProcesses
from services.core.avro_types import VendorEvent
from services.core.lookup_code import format_lookup_code
from services.core.synthetic import GeneratorSettings
from services.messaging.kafka import KafkaSettings
from services.signing.registry import load_registry
from services.stack import StackSettings
from services.stack.migrations import apply_migrations
from services.storage.web.texts import text
from tests.e2e.conftest import ARTIFACTS, PIPELINE
from tests.ports import free_port

pytestmark = pytest.mark.e2e

WebDriver = webdriver.Chrome

STACK = StackSettings.from_env()
KAFKA = KafkaSettings.from_env()
VENDOR = "e2e-web"
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "storage" / "migrations"
SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REASON = "Sửa số ngày nghỉ học theo sổ điểm danh của lớp (kiểm thử trang web)"
STEP_TIMEOUT_S = 120.0
DESKTOP = (1280, 1000)
PHONE = (390, 844)
PORTS = {
    "ingestion": "HOCBA_INGESTION_PORT",
    "validation": "HOCBA_VALIDATION_PORT",
    "signing": "HOCBA_SIGNING_PORT",
    "storage": "HOCBA_STORAGE_PORT",
}


@dataclass(frozen=True)
class Published:
    """What the platform holds once the pipeline is done, for the browser to find."""

    base_url: str
    lookup_code: str
    birth_date: dt.date
    student_name: str
    school_year: str
    record_id: str
    year_result: str
    signer_names: tuple[str, ...]
    current_pdf: bytes
    superseded_pdf: bytes
    #: The other student's page: one version only.
    other_code: str
    other_birth_date: dt.date


# --- the platform side: a corrected record through the processes ----------------------------


async def _create_schema(name: str) -> None:
    admin = await asyncpg.connect(STACK.pg_dsn)
    try:
        await admin.execute(f"CREATE SCHEMA {name}")
    finally:
        await admin.close()
    await apply_migrations(STACK.pg_dsn, MIGRATIONS, schema=name)


async def _drop_schema(name: str) -> None:
    admin = await asyncpg.connect(STACK.pg_dsn)
    try:
        await admin.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
    finally:
        await admin.close()


def _event(key: str, payload: Any) -> VendorEvent:
    school_code, student_id, year = key.split("|")
    return {
        "event_id": str(uuid.uuid4()),
        "vendor_id": VENDOR,
        "occurred_at": dt.datetime.now(dt.UTC),
        "school_code": school_code,
        "student_id": student_id,
        "school_year": year,
        "payload": payload,
        "correlation_id": None,
    }


async def _until(watch: OutcomeWatch, what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await watch.poll(timeout_ms=300)


async def _approve(watch: OutcomeWatch, key: str, version: int) -> None:
    """Teacher and principal approve ``version``, again while it is not pending yet (an
    approval may overtake its record), until the version is stored."""
    for _ in range(10):
        seen = len(watch.signing_refusals.get(key, []))

        def answered(seen: int = seen) -> bool:
            return (
                watch.stored.get(key) == version or len(watch.signing_refusals.get(key, [])) > seen
            )

        await publish_kafka(KAFKA, approval_events(VENDOR, key, version))
        await _until(watch, f"{key} version {version} stored or refused", answered)
        if watch.stored.get(key) == version:
            return
        refusals = watch.signing_refusals.get(key, [])[seen:]
        assert set(refusals) <= {"E_APPROVAL_NO_PENDING_RECORD"}, refusals
        await asyncio.sleep(1.0)
    raise AssertionError(f"{key} version {version} was never pending for its approvals")


async def _stored(dsn: str, key: str) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT record_id, school_year, version, lookup_code, year_result, pdf, "
            "signatures, correction_reason FROM record_versions "
            "WHERE record_key = $1 AND status = 'SIGNED' ORDER BY version",
            key,
        )
    finally:
        await connection.close()
    return [dict(row) for row in rows]


async def _publish(processes: ServiceProcesses, dsn: str) -> Published:
    settings = GeneratorSettings(schools=1, students_per_class=2, grades=(5,), invalid_share=0.0)
    year = school_year(settings, seed=time.time_ns() % 2**32, vendor_id=VENDOR)
    corrected, other = year.records[:2]
    keys = {year.key_of(corrected), year.key_of(other)}
    await prepare_vendor(dsn, VENDOR, year.school_codes, dt.date(2024, 8, 1))
    for name in PIPELINE:
        processes.start(name)
    watch = OutcomeWatch(KAFKA, keys)
    await watch.start()
    key = year.key_of(corrected)
    try:
        await publish_kafka(KAFKA, year.events)
        await _until(watch, "both records validated", lambda: keys <= watch.judged_at.keys())
        for each in sorted(keys):
            await _approve(watch, each, 1)
        # The correction: its reason first, then the change it is for; version 2 approved.
        year_end = [
            e
            for e in year.events
            if e["student_id"] == corrected.record["student"]["student_id"]
            and e["payload"][0] == "vn.edu.hocba.YearEndSubmission"
        ][-1]
        kind, payload = year_end["payload"]
        days = (corrected.record["days_absent"] or 0) + 1
        await publish_kafka(
            KAFKA,
            [
                _event(
                    key,
                    (
                        "vn.edu.hocba.RecordCorrection",
                        {"reason": REASON, "requested_by": "gvcn-e2e-web"},
                    ),
                ),
                _event(key, (kind, {**payload, "days_absent": days})),
            ],
        )
        await _approve(watch, key, 2)
    finally:
        await watch.stop()
    versions = await _stored(dsn, key)
    assert [(v["version"], v["correction_reason"]) for v in versions] == [(1, None), (2, REASON)]
    (other_version,) = await _stored(dsn, year.key_of(other))
    current = versions[-1]
    return Published(
        base_url=processes.url("storage", ""),
        lookup_code=current["lookup_code"],
        birth_date=corrected.record["student"]["date_of_birth"],
        student_name=corrected.record["student"]["full_name"],
        school_year=current["school_year"],
        record_id=current["record_id"],
        year_result=current["year_result"],
        signer_names=tuple(s["signer_name"] for s in _json(current["signatures"])),
        current_pdf=bytes(current["pdf"]),
        superseded_pdf=bytes(versions[0]["pdf"]),
        other_code=other_version["lookup_code"],
        other_birth_date=other.record["student"]["date_of_birth"],
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@pytest.fixture(scope="module")
def published(signing_env: dict[str, str]) -> Iterator[Published]:
    """The records, stored by the pipeline; storage keeps serving while the browser runs."""
    schema = f"e2e_web_{uuid.uuid4().hex[:10]}"
    asyncio.run(_create_schema(schema))
    processes = ServiceProcesses(ARTIFACTS / "web")
    processes.env.update(signing_env)
    processes.env.update({variable: str(free_port()) for variable in PORTS.values()})
    processes.env["HOCBA_PG_DSN"] = f"{STACK.pg_dsn}?search_path={schema}"
    # What the QR code of every page encodes: this storage's pages.
    processes.env["HOCBA_PUBLIC_URL"] = processes.url("storage", "")
    registry = load_registry(Path(signing_env["HOCBA_SIGNERS_FILE"]))
    processes.env["HOCBA_TRUST_ROOTS"] = ":".join(str(p) for p in registry.trust_roots)
    try:
        records = asyncio.run(_publish(processes, processes.env["HOCBA_PG_DSN"]))
        # Only storage serves the pages: the others stop, the browser gets the CPU.
        for name in ("ingestion", "validation", "signing"):
            processes.stop(name)
        yield records
    finally:
        processes.stop_all()
        asyncio.run(_drop_schema(schema))


# --- the browser side --------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless Debian chromium through Debian's chromedriver: nothing is downloaded."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # runs as root in CI containers
        "--disable-dev-shm-usage",
        "--lang=en-US",  # the date picker takes mm/dd/yyyy keystrokes
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: WebDriver, test: str, step: str) -> Path:
    """Save the whole page (the window stretched to its height) as
    artifacts/e2e/screenshots/<test>-<step>.png."""
    width = driver.get_window_size()["width"]
    height = driver.find_element(By.TAG_NAME, "body").size["height"]
    window = driver.get_window_size()["height"]
    driver.set_window_size(width, max(window, min(height + 140, 6000)))
    path = SCREENSHOTS / f"{test}-{step}.png"
    assert driver.save_screenshot(str(path)), path
    driver.set_window_size(width, window)
    return path


def check_page(driver: WebDriver, lang: str) -> str:
    """The markup rules, in the browser's DOM; returns the page's visible text."""
    html = driver.find_element(By.TAG_NAME, "html")
    assert html.get_attribute("lang") == lang
    assert driver.find_elements(By.TAG_NAME, "script") == []
    assert len(driver.find_elements(By.TAG_NAME, "h1")) == 1
    for control in driver.find_elements(By.CSS_SELECTOR, "input:not([type=hidden]), button"):
        if control.tag_name == "button":
            assert control.text.strip(), "every button says what it does"
            continue
        control_id = control.get_attribute("id")
        labels = driver.find_elements(By.CSS_SELECTOR, f"label[for='{control_id}']")
        assert control_id and len(labels) == 1 and labels[0].text.strip(), control_id
        for described in (control.get_attribute("aria-describedby") or "").split():
            assert driver.find_elements(By.ID, described), described
    skip = driver.find_element(By.CSS_SELECTOR, "a.skip")
    assert (skip.get_attribute("href") or "").endswith("#main")
    # The inline style sheet applied: allowed by its hash in the Content-Security-Policy.
    header = driver.find_element(By.TAG_NAME, "header")
    assert header.value_of_css_property("background-color") == "rgba(11, 58, 111, 1)"
    violations = [
        entry["message"]
        for entry in driver.get_log("browser")  # type: ignore[no-untyped-call]
        if "Content Security Policy" in entry["message"]
    ]
    assert violations == []
    return str(driver.find_element(By.TAG_NAME, "body").text)


def follow(driver: WebDriver, selector: str) -> None:
    """Click what ``selector`` finds and wait until the next page has loaded (a click
    returns before the POST's answer, which comes no sooner than the lookup's floor)."""
    before = driver.find_element(By.TAG_NAME, "html")
    wait = WebDriverWait(driver, 30, poll_frequency=0.05)
    try:
        driver.find_element(By.CSS_SELECTOR, selector).click()
    except WebDriverException as failure:
        # chromedriver may report "node does not belong to the document" when the click's
        # navigation replaced the page before the command finished: the click happened.
        try:
            WebDriverWait(driver, 5, poll_frequency=0.05).until(replaced(before))
        except TimeoutException:
            raise failure from None
    wait.until(replaced(before))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def replaced(element: WebElement) -> Callable[[WebDriver], bool]:
    """A wait condition: ``element``'s page has been replaced by the next one.

    Selenium's ``staleness_of`` knows only StaleElementReferenceException; chromedriver
    answers a probe that races the navigation with an "unknown error" whose message says
    the node "does not belong to the document" — the same fact, so it counts as replaced
    (chromedriver gives no other attribute to tell it by).
    """

    def check(_: WebDriver) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in (exc.msg or ""):
                return True
            raise
        return False

    return check


def type_birth_date(driver: WebDriver, date: dt.date) -> None:
    field = driver.find_element(By.ID, "birth_date")
    field.clear()
    field.send_keys(f"{date.month:02d}/{date.day:02d}/{date.year}")  # en-US date picker
    assert field.get_attribute("value") == date.isoformat()


def look_up(driver: WebDriver, base_url: str, code: str, date: dt.date, lang: str = "vi") -> str:
    driver.get(f"{base_url}/tra-cuu" + ("?lang=en" if lang == "en" else ""))
    check_page(driver, lang)
    field = driver.find_element(By.ID, "code")
    field.clear()
    field.send_keys(code)
    type_birth_date(driver, date)
    follow(driver, "main form button[type=submit]")
    return check_page(driver, lang)


def other_date(date: dt.date) -> dt.date:
    return date + dt.timedelta(days=1)


def unknown_code() -> str:
    return format_lookup_code(secrets.randbits(80))


def main_text(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "main").text)


# --- the steps ---------------------------------------------------------------------------


def test_every_page_is_sent_with_the_security_headers(published: Published) -> None:
    for path in ("/", "/tra-cuu", f"/tra-cuu/{published.lookup_code}", "/xac-minh?lang=en"):
        with urllib.request.urlopen(published.base_url + path, timeout=10) as answer:
            headers = answer.headers
            body = answer.read().decode()
        assert headers["Cache-Control"] == "no-store"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"
        assert "script-src" not in headers["Content-Security-Policy"]
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert "<script" not in body


def test_a_parent_looks_the_record_up_with_the_birth_date(
    published: Published, browser: WebDriver
) -> None:
    browser.get(published.base_url + "/")
    check_page(browser, "vi")
    shot(browser, "lookup", "form")
    page = look_up(browser, published.base_url, published.lookup_code, published.birth_date)
    assert text("vi", "result_title") in page
    assert published.student_name in page
    assert text("vi", "school_year_heading", year=published.school_year) in page
    assert text("vi", f"result_{published.year_result}") in page
    # The signature timeline: teacher → principal → seal, with names, and complete.
    roles = [
        text("vi", f"role_{role}") for role in ("HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL")
    ]
    positions = [page.index(role) for role in roles]
    assert positions == sorted(positions)
    for name in published.signer_names:
        assert name in page
    assert text("vi", "fully_signed") in page
    assert text("vi", "superseded_versions", count=1) in page
    timeline = browser.find_elements(By.CSS_SELECTOR, "ol.timeline > li.done")
    assert len(timeline) == 3
    shot(browser, "lookup", "result")
    browser.set_window_size(*PHONE)
    try:
        page = look_up(browser, published.base_url, published.lookup_code, published.birth_date)
        assert published.student_name in page
        # Nothing wider than the phone's screen: no sideways scrolling.
        scroll_width = browser.execute_script("return document.documentElement.scrollWidth")
        assert scroll_width <= PHONE[0]
        button = browser.find_element(By.CSS_SELECTOR, "form[action='/tra-cuu/pdf'] button")
        assert button.size["height"] >= 48
        shot(browser, "lookup", "result-phone")
    finally:
        browser.set_window_size(*DESKTOP)


def test_a_wrong_birth_date_and_an_unknown_code_see_the_same_not_found_page(
    published: Published, browser: WebDriver
) -> None:
    look_up(
        browser, published.base_url, published.other_code, other_date(published.other_birth_date)
    )
    wrong_date = main_text(browser)
    shot(browser, "not-found", "wrong-birth-date")
    code = unknown_code()
    look_up(browser, published.base_url, code, published.other_birth_date)
    unknown = main_text(browser)
    shot(browser, "not-found", "unknown-code")
    assert text("vi", "not_found_title") in wrong_date
    assert wrong_date == unknown  # the form under it keeps neither code nor birth date in text
    codes = [
        browser.find_element(By.ID, "code").get_attribute("value"),
    ]
    assert codes == [code]  # the code typed is kept in the field to correct it
    assert browser.find_element(By.ID, "birth_date").get_attribute("value") == ""


def test_a_code_is_locked_after_repeated_failures(published: Published, browser: WebDriver) -> None:
    code = unknown_code()
    for _ in range(5):
        look_up(browser, published.base_url, code, published.birth_date)
        assert text("vi", "not_found_title") in main_text(browser)
    page = look_up(browser, published.base_url, code, published.birth_date)
    assert text("vi", "locked_title") in page
    assert "Vui lòng thử lại sau" in page and "phút" in page
    shot(browser, "locked", "page")


def test_the_page_switches_to_english_and_back(published: Published, browser: WebDriver) -> None:
    browser.get(published.base_url + "/tra-cuu")
    check_page(browser, "vi")
    follow(browser, "header a[hreflang='en']")
    page = check_page(browser, "en")
    assert text("en", "lookup_title") in page and text("en", "code_label") in page
    assert browser.find_element(By.CSS_SELECTOR, "input[name=lang]").get_attribute("value") == "en"
    shot(browser, "english", "form")
    browser.find_element(By.ID, "code").send_keys(published.lookup_code)
    type_birth_date(browser, published.birth_date)
    follow(browser, "main form button[type=submit]")
    page = check_page(browser, "en")
    assert text("en", "result_title") in page and text("en", "fully_signed") in page
    assert text("en", "role_HOMEROOM_TEACHER") in page
    shot(browser, "english", "result")
    # The switch on a result page sends the same form again, in Vietnamese.
    follow(browser, "header button[lang='vi']")
    page = check_page(browser, "vi")
    assert text("vi", "result_title") in page and published.student_name in page


def test_the_qr_target_opens_the_prefilled_form(published: Published, browser: WebDriver) -> None:
    qr_url = f"{published.base_url}/tra-cuu/{published.lookup_code}"
    # The page prints the URL its QR code encodes (read from the text, nothing decoded).
    done = subprocess.run(
        ["/usr/bin/pdftotext", "-enc", "UTF-8", "-", "-"],
        input=published.current_pdf,
        capture_output=True,
        check=True,
    )
    assert qr_url in "".join(done.stdout.decode().split())
    browser.get(qr_url)
    page = check_page(browser, "vi")
    assert text("vi", "qr_intro") in page
    assert browser.find_element(By.ID, "code").get_attribute("value") == published.lookup_code
    assert browser.switch_to.active_element.get_attribute("id") == "birth_date"
    verify_link = browser.find_element(By.LINK_TEXT, text("vi", "qr_verify_link"))
    assert verify_link.get_attribute("href") == published.base_url + "/xac-minh"
    shot(browser, "qr", "form")
    type_birth_date(browser, published.birth_date)
    follow(browser, "main form button[type=submit]")
    assert published.student_name in check_page(browser, "vi")
    # The access log: the lookups of these tests, by the holder of the code.
    follow(browser, "form[action='/tra-cuu/nhat-ky'] button")
    page = check_page(browser, "vi")
    assert text("vi", "access_log_title") in page and text("vi", "holder") in page
    assert len(browser.find_elements(By.CSS_SELECTOR, "tbody tr")) >= 2
    shot(browser, "qr", "access-log")


def test_the_pdf_is_downloaded_by_post_with_the_birth_date_in_the_body(
    published: Published,
) -> None:
    body = urllib.parse.urlencode(
        {
            "code": published.lookup_code,
            "birth_date": published.birth_date.strftime("%d/%m/%Y"),  # typed, no date picker
            "lang": "vi",
        }
    ).encode()
    request = urllib.request.Request(published.base_url + "/tra-cuu/pdf", data=body)
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.headers["Content-Type"] == "application/pdf"
        assert answer.headers["Cache-Control"] == "no-store"
        assert answer.headers["Content-Disposition"].startswith("attachment;")
        assert answer.read() == published.current_pdf


def tampered(pdf: bytes) -> bytes:
    """The PDF with one byte of its page's content stream changed (covered by every
    signature: the first revision's bytes)."""
    reader = PdfFileReader(io.BytesIO(pdf))
    page = reader.root["/Pages"]["/Kids"][0]
    contents = page.raw_get("/Contents")
    reference = contents[0] if isinstance(contents, list) else contents
    header = f"\n{reference.idnum} {reference.generation} obj".encode()
    start = pdf.index(b"stream", pdf.index(header)) + len(b"stream\r\n") + 16
    changed = bytes([pdf[start] ^ 0x01])
    return pdf[:start] + changed + pdf[start + 1 :]


def upload(driver: WebDriver, base_url: str, pdf: bytes, path: Path) -> str:
    path.write_bytes(pdf)
    driver.get(base_url + "/xac-minh")
    check_page(driver, "vi")
    driver.find_element(By.ID, "pdf").send_keys(str(path))
    follow(driver, "main form button[type=submit]")
    page = check_page(driver, "vi")
    assert text("vi", "verify_result_title") in page
    return page


def verdict_line(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "verdict").text)


def test_a_valid_current_pdf_is_verified(
    published: Published, browser: WebDriver, tmp_path: Path
) -> None:
    browser.get(published.base_url + "/xac-minh")
    check_page(browser, "vi")
    shot(browser, "verify", "form")
    page = upload(browser, published.base_url, published.current_pdf, tmp_path / "hoc-ba.pdf")
    assert verdict_line(browser) == text("vi", "verdict_current")
    assert published.record_id in page
    for role in ("HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL"):
        assert text("vi", f"role_{role}") in page
    assert page.count(text("vi", "intact")) == 3
    assert text("vi", "document_timestamp") in page
    assert text("vi", "platform_same_file") in page
    shot(browser, "verify", "valid")


def test_a_tampered_pdf_is_not_valid(
    published: Published, browser: WebDriver, tmp_path: Path
) -> None:
    page = upload(
        browser, published.base_url, tampered(published.current_pdf), tmp_path / "sua.pdf"
    )
    assert verdict_line(browser) == text("vi", "verdict_broken")
    assert text("vi", "tampered") in page
    shot(browser, "verify", "tampered")


def test_a_superseded_pdf_is_valid_but_corrected(
    published: Published, browser: WebDriver, tmp_path: Path
) -> None:
    page = upload(browser, published.base_url, published.superseded_pdf, tmp_path / "cu.pdf")
    assert verdict_line(browser) == text("vi", "verdict_superseded")
    assert REASON in page
    assert "phiên bản 2" in page
    shot(browser, "verify", "superseded")
    # The same verdict in English.
    follow(browser, "header a[hreflang='en']")
    check_page(browser, "en")
    browser.find_element(By.ID, "pdf").send_keys(str(tmp_path / "cu.pdf"))
    follow(browser, "main form button[type=submit]")
    page = check_page(browser, "en")
    assert verdict_line(browser) == text("en", "verdict_superseded")
    assert "version 2" in page
    shot(browser, "verify", "superseded-english")
