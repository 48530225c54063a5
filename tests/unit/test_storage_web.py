"""The record pages' rendering (services.storage.web.templates, texts, forms), pure: hostile text
is escaped, both languages are complete, no page has a script, every control has a label,
and the verdict of a verification follows the report and the platform's view."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

import pytest

from services.storage.standing import PlatformView, Supersession
from services.storage.web.forms import parse_birth_date
from services.storage.web.templates import (
    CONTENT_SECURITY_POLICY,
    CSS,
    FieldError,
    access_log_page,
    format_time,
    locked_page,
    lookup_form_page,
    not_found_page,
    result_page,
    unavailable_page,
    verdict,
    verify_form_page,
    verify_result_page,
)
from services.storage.web.texts import LANGS, TEXTS, Lang, lang_of, text
from services.verification import (
    DocumentTimestampReport,
    SignatureReport,
    TimestampReport,
    VerificationReport,
)

pytestmark = pytest.mark.unit

HOSTILE = "<script>alert('x')</script>\"><img src=x onerror=alert(1)>&amp;"
SIGNED = dt.datetime(2025, 5, 20, 3, 4, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Sig:
    role: str
    signer_name: str
    signed_at: dt.datetime | str | None


@dataclass(frozen=True)
class Page:
    school_year: str = "2024-2025"
    grade: int = 3
    school_code: str = "79000001"
    school_name: str | None = "Trường Tiểu học Lê Văn Tám"
    year_result: str | None = "HTT"
    completion_statement: str | None = "Hoàn thành chương trình lớp 3"
    version: int = 1
    effective_at: dt.datetime | str | None = SIGNED
    signatures: Sequence[Sig] = (
        Sig("HOMEROOM_TEACHER", "Nguyễn Thị Hoa", SIGNED),
        Sig("PRINCIPAL", "Trần Văn Bình", SIGNED),
        Sig("SCHOOL_SEAL", "Trường Tiểu học Lê Văn Tám", SIGNED),
    )
    signed_complete: bool = True
    superseded_versions: int = 0
    is_named_page: bool = True


@dataclass(frozen=True)
class View:
    student_name: str = "Phạm Minh Khôi"
    pages: Sequence[Page] = field(default_factory=lambda: [Page()])


@dataclass(frozen=True)
class Entry:
    at: dt.datetime | str
    action: str
    client_kind: str | None
    client_name: str | None
    purpose: str | None
    school_year: str | None = None


class Dom(HTMLParser):
    """What the checks need of a page: tags, attributes, labels, headings, text."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def all(self, tag: str) -> list[dict[str, str | None]]:
        return [attrs for name, attrs in self.tags if name == tag]

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


def assert_accessible(page: str, lang: Lang) -> Dom:
    """The markup rules every page keeps."""
    dom = Dom(page)
    assert page.startswith("<!DOCTYPE html>")
    assert dom.all("html") == [{"lang": lang}]
    assert len(dom.all("h1")) == 1
    assert not dom.all("script") and "<script" not in page.lower()
    assert not any(k.startswith("on") for _, attrs in dom.tags for k in attrs), "no handlers"
    assert not any("style" in attrs for _, attrs in dom.tags), "no style attributes (CSP)"
    assert any(a.get("name") == "viewport" for a in dom.all("meta"))
    assert dom.all("a")[0] == {"class": "skip", "href": "#main"}
    assert [m.get("id") for m in dom.all("main")] == ["main"]
    labelled = {a.get("for") for a in dom.all("label")}
    ids = [attrs.get("id") for _, attrs in dom.tags if attrs.get("id")]
    assert len(ids) == len(set(ids)), "ids are unique"
    for control in dom.all("input"):
        if control.get("type") == "hidden":
            continue
        assert control.get("id") in labelled, control
        for described in (control.get("aria-describedby") or "").split():
            assert described in ids, described
    for form in dom.all("form"):
        assert form.get("method") == "post"
    forms_lang = [a.get("value") for a in dom.all("input") if a.get("name") == "lang"]
    # The language travels with every form (the switch's form carries the other one).
    assert forms_lang.count(lang) >= len(dom.all("form")) - 1
    return dom


def signature(field_name: str, **changes: object) -> SignatureReport:
    base = SignatureReport(
        field_name=field_name,
        signer_subject=f"CN={field_name}",
        signer_name=f"Signer of {field_name}",
        certificate_sha256="ab" * 32,
        intact=True,
        trust_anchor="Hocba Dev Root CA",
        revocation="good",
        revocation_source="embedded",
        timestamp=TimestampReport(SIGNED, "Hocba Dev TSA", True, True, "good"),
        coverage="ENTIRE_REVISION",
        modification_level="FORM_FILLING",
        lock_holds=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def report(*signatures: SignatureReport, **changes: object) -> VerificationReport:
    sigs = signatures or tuple(
        signature(name) for name in ("homeroom_teacher", "principal", "school_seal")
    )
    base = VerificationReport(
        signatures=sigs,
        document_timestamps=(
            DocumentTimestampReport(
                "doc_ts",
                TimestampReport(SIGNED, "Hocba Dev TSA", True, True, "good"),
                "ENTIRE_FILE",
                None,
                True,
            ),
        ),
        level="B-LTA",
        seal_lock_holds=True,
        embedded_file=None,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


CURRENT = PlatformView("current", "HB0000000000000001", "2024-2025", 1, 1, True)
SUPERSEDED = PlatformView(
    "superseded",
    "HB0000000000000001",
    "2024-2025",
    1,
    2,
    True,
    Supersession(2, SIGNED, "Sửa số ngày nghỉ học"),
)
NOT_STORED = PlatformView("unknown", reason="not_stored")
UNAVAILABLE = PlatformView("unknown", reason="unavailable")


# --- texts -------------------------------------------------------------------------------


def test_every_text_has_both_languages_with_the_same_fields() -> None:
    fields = string.Formatter()
    for key, (vi, en) in TEXTS.items():
        assert vi.strip() and en.strip(), key
        names_vi = {f for _, f, _, _ in fields.parse(vi) if f}
        names_en = {f for _, f, _, _ in fields.parse(en) if f}
        assert names_vi == names_en, key


def test_vietnamese_texts_carry_their_diacritics() -> None:
    assert text("vi", "lookup_title") == "Tra cứu học bạ số"
    assert text("vi", "verdict_current") == "Hợp lệ và đang có hiệu lực"
    assert text("vi", "verdict_superseded") == "Hợp lệ nhưng đã được đính chính"
    assert text("vi", "verdict_broken") == "Không hợp lệ: chữ ký bị phá vỡ"
    assert text("vi", "verdict_not_found") == "Không tìm thấy trên hệ thống"
    assert text("vi", "fully_signed") == "Đã ký đủ"
    assert text("en", "fully_signed") == "Fully signed"


@pytest.mark.parametrize(
    ("asked", "lang"), [("en", "en"), ("EN", "en"), ("vi", "vi"), (None, "vi"), ("fr", "vi")]
)
def test_the_page_language_is_vietnamese_unless_english_is_asked_for(
    asked: str | None, lang: str
) -> None:
    assert lang_of(asked) == lang


# --- forms -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "iso"),
    [
        ("2014-09-05", "2014-09-05"),
        ("05/09/2014", "2014-09-05"),
        ("5/9/2014", "2014-09-05"),
        (" 05-09-2014 ", "2014-09-05"),
        ("05.09.2014", "2014-09-05"),
        ("29/02/2016", "2016-02-29"),
        ("29/02/2015", None),
        ("31/04/2014", None),
        ("09/05/14", None),
        ("2014/09/05", None),
        ("1899-12-31", None),
        ("3000-01-01", None),
        ("", None),
        ("hôm qua", None),
    ],
)
def test_a_birth_date_is_read_day_first_or_iso(typed: str, iso: str | None) -> None:
    assert parse_birth_date(typed) == iso


# --- escaping and structure --------------------------------------------------------------


def hostile_view() -> View:
    page = Page(
        school_name=HOSTILE,
        school_code=HOSTILE,
        completion_statement=HOSTILE,
        year_result=HOSTILE,
        signatures=(Sig("HOMEROOM_TEACHER", HOSTILE, SIGNED), Sig(HOSTILE, HOSTILE, HOSTILE)),
        signed_complete=False,
        superseded_versions=2,
    )
    return View(student_name=HOSTILE, pages=[page])


@pytest.mark.parametrize("lang", LANGS)
def test_hostile_text_in_a_record_never_becomes_markup(lang: Lang) -> None:
    pages = [
        result_page(lang, hostile_view(), HOSTILE, HOSTILE),
        lookup_form_page(lang, code=HOSTILE, birth_date=HOSTILE, from_qr=True),
        not_found_page(lang, HOSTILE),
        locked_page(lang, HOSTILE, 61),
        access_log_page(
            lang,
            [
                Entry(HOSTILE, HOSTILE, HOSTILE, HOSTILE, HOSTILE),
                Entry(SIGNED, "READ", None, None, None),
            ],
            HOSTILE,
            HOSTILE,
            HOSTILE,
        ),
        verify_result_page(
            lang,
            report(
                signature(HOSTILE, signer_name=HOSTILE, trust_anchor=HOSTILE, problems=(HOSTILE,)),
                problems=(HOSTILE,),
            ),
            replace(
                SUPERSEDED,
                record_id=HOSTILE,
                school_year=HOSTILE,
                superseded_by=Supersession(2, SIGNED, HOSTILE),
            ),
        ),
    ]
    for page in pages:
        assert "<script" not in page and "<img" not in page
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;&quot;&gt;&lt;img" in page
        assert "&amp;amp;" in page  # escaped once more, never decoded
        dom = assert_accessible(page, lang)
        # ... and a person still reads it as it was written.
        values = [v for _, attrs in dom.tags for v in attrs.values()]
        assert HOSTILE in dom.plain or HOSTILE in values


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_is_accessible_and_scriptless(lang: Lang) -> None:
    pages = {
        "form": lookup_form_page(lang),
        "qr": lookup_form_page(lang, code="0TKP-SW9Y-1WA3-2RDZ-A", from_qr=True),
        "errors": lookup_form_page(
            lang,
            code="X",
            errors=[
                FieldError("code", "err_code_invalid"),
                FieldError("birth_date", "err_birth_missing"),
            ],
        ),
        "result": result_page(lang, View(), "0TKP-SW9Y-1WA3-2RDZ-A", "2014-09-05"),
        "not_found": not_found_page(lang, "0TKP-SW9Y-1WA3-2RDZ-A"),
        "locked": locked_page(lang, "0TKP-SW9Y-1WA3-2RDZ-A", 900),
        "unavailable": unavailable_page(lang),
        "log": access_log_page(lang, [], "0TKP-SW9Y-1WA3-2RDZ-A", "2014-09-05"),
        "verify": verify_form_page(lang, 10 * 1024 * 1024),
        "verify_error": verify_form_page(lang, 1024, [FieldError("pdf", "err_pdf_missing")]),
        "verified": verify_result_page(lang, report(), CURRENT),
    }
    for name, page in pages.items():
        dom = assert_accessible(page, lang)
        # The switch names the other language in that language.
        switch = text(lang, "switch_to")
        assert switch in dom.plain, name
        assert text(lang, "site_name") in dom.plain, name


@pytest.mark.parametrize("lang", LANGS)
def test_errors_are_summarised_focused_and_tied_to_their_fields(lang: Lang) -> None:
    page = lookup_form_page(
        lang,
        code="X",
        birth_date="31/02/2014",
        errors=[
            FieldError("code", "err_code_invalid"),
            FieldError("birth_date", "err_birth_invalid"),
        ],
    )
    dom = Dom(page)
    (summary,) = [a for a in dom.all("div") if a.get("class") == "error-summary"]
    assert summary["role"] == "alert" and summary["tabindex"] == "-1" and "autofocus" in summary
    links = [a.get("href") or "" for a in dom.all("a")]
    assert [h for h in links if h.startswith("#") and h != "#main"] == ["#code", "#birth_date"]
    controls = {a["id"]: a for a in dom.all("input") if a.get("id")}
    assert controls["code"]["aria-describedby"] == "code-hint code-error"
    assert controls["code"]["aria-invalid"] == "true"
    assert controls["birth_date"]["aria-describedby"] == "birth_date-hint birth_date-error"
    assert controls["birth_date"]["type"] == "date"
    assert controls["birth_date"]["value"] == "31/02/2014"  # what was typed, to correct
    assert text(lang, "err_birth_invalid") in dom.plain


def test_the_qr_target_is_prefilled_and_links_to_verification() -> None:
    dom = Dom(lookup_form_page("vi", code="0TKP-SW9Y-1WA3-2RDZ-A", from_qr=True))
    code = next(a for a in dom.all("input") if a.get("id") == "code")
    assert code["value"] == "0TKP-SW9Y-1WA3-2RDZ-A"
    assert any(a.get("href") == "/xac-minh" for a in dom.all("a"))
    switch = next(a for a in dom.all("a") if a.get("hreflang") == "en")
    assert switch["href"] == "/tra-cuu/0TKP-SW9Y-1WA3-2RDZ-A?lang=en"
    birth = next(a for a in dom.all("input") if a.get("id") == "birth_date")
    assert "autofocus" in birth


@pytest.mark.parametrize("lang", LANGS)
def test_the_result_shows_the_year_and_the_signature_timeline_in_order(lang: Lang) -> None:
    signatures = tuple(reversed(Page().signatures))  # any order in, signing order out
    view = View(pages=[Page(signatures=signatures, superseded_versions=1)])
    page = result_page(lang, view, "0TKP-SW9Y-1WA3-2RDZ-A", "2014-09-05")
    plain = Dom(page).plain
    assert "Phạm Minh Khôi" in plain and "Trường Tiểu học Lê Văn Tám (79000001)" in plain
    assert text(lang, "result_HTT") in plain and text(lang, "fully_signed") in plain
    roles = [text(lang, f"role_{r}") for r in ("HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL")]
    positions = [plain.index(r) for r in roles]
    assert positions == sorted(positions)
    assert "20/05/2025 10:04" in plain  # 03:04 UTC in Vietnam time
    assert text(lang, "superseded_versions", count=1) in plain
    # The PDF and the access log are POSTed with the birth date, never put in a URL.
    dom = Dom(page)
    actions = [f.get("action") for f in dom.all("form")]
    assert actions == ["/tra-cuu", "/tra-cuu/pdf", "/tra-cuu/nhat-ky"]
    assert not any("2014-09-05" in (a.get("href") or "") for a in dom.all("a"))


def test_a_page_not_named_by_the_code_has_no_pdf_button_and_missing_signatures_show() -> None:
    page = Page(
        is_named_page=False,
        signed_complete=False,
        signatures=(Sig("HOMEROOM_TEACHER", "Nguyễn Thị Hoa", SIGNED),),
    )
    html = result_page("vi", View(pages=[page]), "HB0000000000000001", "2014-09-05")
    dom = Dom(html)
    assert "/tra-cuu/pdf" not in [f.get("action") for f in dom.all("form")]
    assert dom.plain.count("chưa ký") == 2 and "Chưa ký đủ" in dom.plain


def test_the_not_found_page_is_the_same_whatever_was_wrong() -> None:
    # The page shows the code typed back, nothing else that depends on the request.
    first = not_found_page("vi", "AAAA-BBBB-CCCC-DDDD-1")
    second = not_found_page("vi", "EEEE-FFFF-GGGG-HHHH-2")
    assert first.replace("AAAA-BBBB-CCCC-DDDD-1", "") == second.replace("EEEE-FFFF-GGGG-HHHH-2", "")


def test_a_lock_says_when_to_come_back_in_whole_minutes() -> None:
    assert "thử lại sau 15 phút" in Dom(locked_page("vi", "X", 900)).plain
    assert "try again after 2 minutes" in Dom(locked_page("en", "X", 61)).plain


def test_the_access_log_names_who_read_and_why() -> None:
    entries = [
        Entry(SIGNED, "READ", "SCHOOL", "Trường Tiểu học Kim Đồng", "Tiếp nhận học sinh chuyển"),
        Entry("2025-05-21T01:00:00+00:00", "VERIFIED", None, None, None),
    ]
    plain = Dom(access_log_page("vi", entries, "X", "2014-09-05", "Phạm Minh Khôi")).plain
    assert "Trường học: Trường Tiểu học Kim Đồng" in plain
    assert "Tiếp nhận học sinh chuyển" in plain
    assert "Người có mã tra cứu" in plain and "21/05/2025 08:00" in plain


# --- verification -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("checked", "platform", "key", "tone"),
    [
        (report(), CURRENT, "verdict_current", "good"),
        (report(), SUPERSEDED, "verdict_superseded", "warn"),
        (report(), NOT_STORED, "verdict_not_found", "bad"),
        # The platform's database down: never "invalid".
        (report(), UNAVAILABLE, "verdict_unknown", "warn"),
        (report(signature("principal", intact=False)), CURRENT, "verdict_broken", "bad"),
        (report(signature("principal", lock_holds=False)), CURRENT, "verdict_broken", "bad"),
        (report(seal_lock_holds=False), CURRENT, "verdict_broken", "bad"),
        (report(signature("principal", revocation="revoked")), CURRENT, "verdict_revoked", "bad"),
        (report(signature("principal", trust_anchor=None)), NOT_STORED, "verdict_untrusted", "bad"),
        (report(signature("principal", timestamp=None)), CURRENT, "verdict_invalid", "bad"),
        (report(signatures=()), NOT_STORED, "verdict_unsigned", "bad"),
    ],
)
def test_the_verdict_follows_the_signatures_first_then_the_platform(
    checked: VerificationReport, platform: PlatformView, key: str, tone: str
) -> None:
    conclusion = verdict("vi", checked, platform)
    assert (conclusion.key, conclusion.tone) == (key, tone)


@pytest.mark.parametrize("lang", LANGS)
def test_a_superseded_file_says_by_which_version_since_when_and_why(lang: Lang) -> None:
    page = verify_result_page(lang, report(), SUPERSEDED)
    plain = Dom(page).plain
    assert text(lang, "verdict_superseded") in plain
    assert "Sửa số ngày nghỉ học" in plain and "20/05/2025" in plain
    assert re.search(r"\b2\b", plain)


@pytest.mark.parametrize("lang", LANGS)
def test_the_verification_shows_each_signature_with_its_evidence(lang: Lang) -> None:
    checked = report(
        signature("homeroom_teacher"),
        signature("principal", intact=False, problems=("digest mismatch",)),
        signature("school_seal", revocation="unknown"),
    )
    plain = Dom(verify_result_page(lang, checked, CURRENT)).plain
    for role in ("HOMEROOM_TEACHER", "PRINCIPAL", "SCHOOL_SEAL"):
        assert text(lang, f"role_{role}") in plain
    assert text(lang, "tampered") in plain and "digest mismatch" in plain
    assert text(lang, "revocation_unknown") in plain
    assert text(lang, "trusted_by", anchor="Hocba Dev Root CA") in plain
    assert text(lang, "document_timestamp") in plain and "Hocba Dev TSA" in plain
    assert text(lang, "verdict_broken") in plain


def test_the_content_security_policy_allows_the_style_sheet_and_no_script() -> None:
    digest = base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in CONTENT_SECURITY_POLICY
    assert "script-src" not in CONTENT_SECURITY_POLICY
    assert "unsafe" not in CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    # The style sheet in the page is byte for byte the one hashed.
    assert f"<style>{CSS}</style>" in lookup_form_page("vi")


def test_times_are_shown_in_vietnam_time() -> None:
    assert format_time(SIGNED, "vi") == "20/05/2025 10:04 (giờ Việt Nam)"
    assert format_time("2025-05-20T03:04:00Z", "en") == "20/05/2025 10:04 (Vietnam time)"
    assert format_time(dt.date(2025, 5, 20), "en") == "20/05/2025"
    assert format_time("not a time", "en") == "not a time"
