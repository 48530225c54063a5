"""The record page PDF: content, determinism, signature fields and locks, attachment, QR code."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import reportlab
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import FieldMDPAction, FieldMDPSpec, enumerate_sig_fields
from reportlab.graphics.barcode import qrencoder

import services.core.record_page as record_page
from services.core import outcome_message, validate_year_record
from services.core.lookup_code import format_lookup_code
from services.core.record_page import (
    EMBEDDED_RECORD_NAME,
    SIGNATURE_FIELDS,
    PageFonts,
    PageIdentity,
    RecordPageError,
    render_year_page,
)
from services.core.record_page.content import page_content
from services.core.record_page.fonts import register_fonts
from services.core.record_page.layout import Qr, lay_out
from services.core.record_page.qr import qr_rows
from services.core.synthetic import GeneratorSettings, generate_school_year

pytestmark = pytest.mark.unit

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
VALIDATED_AT = dt.datetime(2025, 6, 2, 8, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def fonts() -> PageFonts:
    return PageFonts(
        regular=(DEJAVU / "DejaVuSans.ttf").read_bytes(),
        bold=(DEJAVU / "DejaVuSans-Bold.ttf").read_bytes(),
    )


def _validated_records(count_per_class: int, seed: int) -> Iterator[dict[str, Any]]:
    settings = GeneratorSettings(schools=1, students_per_class=count_per_class)
    for generated in generate_school_year(settings, seed=seed):
        outcome = validate_year_record(generated.record)
        name, datum = outcome_message(
            generated.record, outcome, vendor_id="vendor-1", validated_at=VALIDATED_AT
        )
        assert name == "vn.edu.hocba.ValidatedRecord", outcome.findings
        yield dict(datum)


@pytest.fixture(scope="module")
def validated_records() -> list[dict[str, Any]]:
    return list(_validated_records(4, seed=11))


@pytest.fixture(scope="module")
def validated(validated_records: list[dict[str, Any]]) -> dict[str, Any]:
    # A grade-5 record: the most subjects, and "chương trình tiểu học".
    return next(v for v in validated_records if v["record"]["grade"] == 5)


def record_json(validated: dict[str, Any]) -> bytes:
    text = json.dumps(validated["record"], default=str, sort_keys=True, ensure_ascii=False)
    return text.encode("utf-8")


IDENTITY = PageIdentity(
    record_id="HB7K2M9Q4R8T1V3W5X",
    version=1,
    lookup_code=format_lookup_code(0x5A5A_1234_9876_ABCD_0F0F),
    verify_url="https://hocba.edu.vn/xac-minh/HB7K2M9Q4R8T1V3W5X/1",
)


@pytest.fixture(scope="module")
def pdf(validated: dict[str, Any], fonts: PageFonts) -> bytes:
    return render_year_page(validated, IDENTITY, record_json(validated), fonts)


def pdf_text(pdf: bytes) -> str:
    done = subprocess.run(
        ["/usr/bin/pdftotext", "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode("utf-8")


def reader(pdf: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(pdf))


def test_public_surface() -> None:
    assert record_page.__all__ == [
        "EMBEDDED_RECORD_NAME",
        "SIGNATURE_FIELDS",
        "PageFonts",
        "PageIdentity",
        "RecordPageError",
        "render_year_page",
    ]
    assert list(SIGNATURE_FIELDS.items()) == [
        ("HOMEROOM_TEACHER", "homeroom_teacher"),
        ("PRINCIPAL", "principal"),
        ("SCHOOL_SEAL", "school_seal"),
    ]
    assert EMBEDDED_RECORD_NAME == "hoc-ba.json"
    assert "xxxx" not in repr(PageFonts(b"x" * 10, b"y"))  # no font bytes in logs


def test_same_inputs_same_bytes(validated: dict[str, Any], fonts: PageFonts, pdf: bytes) -> None:
    again = render_year_page(dict(validated), IDENTITY, record_json(validated), fonts)
    assert again == pdf


def test_other_inputs_other_bytes_and_document_id(
    validated: dict[str, Any], fonts: PageFonts, pdf: bytes
) -> None:
    other = dataclasses.replace(IDENTITY, version=2)
    changed = render_year_page(validated, other, record_json(validated), fonts)
    assert changed != pdf
    first, second = reader(pdf).trailer["/ID"], reader(changed).trailer["/ID"]
    assert first[0].original_bytes != second[0].original_bytes
    assert first[1].original_bytes != second[1].original_bytes


def test_one_a4_page_in_one_revision_readable_by_pyhanko(pdf: bytes) -> None:
    document = reader(pdf)
    pages = document.root["/Pages"]
    assert pages["/Count"] == 1
    media_box = [float(v) for v in pages["/Kids"][0].get_object()["/MediaBox"]]
    assert media_box == pytest.approx([0, 0, 595.2756, 841.8898], abs=0.01)
    # The page, its fields and the attachment in one revision, with a classic cross-reference
    # table (the signing service appends its revisions in the same form).
    assert document.xrefs.total_revisions == 1
    assert pdf.startswith(b"%PDF-1.7\n") and pdf.endswith(b"%%EOF\n")
    assert b"\nxref\n0 " in pdf and b"/XRef" not in pdf and b"/ObjStm" not in pdf
    done = subprocess.run(["/usr/bin/pdfinfo", "-"], input=pdf, capture_output=True, check=True)
    assert b"Form:            AcroForm" in done.stdout


def test_fonts_are_embedded_subsets(pdf: bytes) -> None:
    page = reader(pdf).root["/Pages"]["/Kids"][0].get_object()
    fonts = page["/Resources"]["/Font"]
    names = sorted(str(fonts[key]["/BaseFont"]) for key in fonts)
    assert len(names) == 2
    for name in names:
        tag, _, base = name.lstrip("/").partition("+")
        assert len(tag) == 6 and tag.isupper()
        assert base in {"DejaVuSans", "DejaVuSans-Bold"}
    for key in fonts:
        assert "/FontFile2" in fonts[key]["/FontDescriptor"]


def test_three_empty_signature_fields_with_their_locks(pdf: bytes) -> None:
    document = reader(pdf)
    fields = list(enumerate_sig_fields(document))
    assert [name for name, _, _ in fields] == list(SIGNATURE_FIELDS.values())
    # Signatures exist, append only: signing need not rewrite the form.
    assert document.root["/AcroForm"]["/SigFlags"] == 3
    assert all(value is None for _, value, _ in fields)
    page_ref = document.root["/Pages"]["/Kids"][0]
    annotations = {ref.idnum for ref in page_ref.get_object()["/Annots"]}
    locks = {}
    for name, _, ref in fields:
        field = ref.get_object()
        assert field["/FT"] == "/Sig"
        assert ref.idnum in annotations  # a widget on the (last) page
        llx, lly, urx, ury = (float(v) for v in field["/Rect"])
        assert 0 < llx < urx < 595 and 0 < lly < ury < 842 and ury - lly > 30
        lock = field["/Lock"]
        locks[name] = (FieldMDPSpec.from_pdf_object(lock), lock.get("/P"))
    assert locks["homeroom_teacher"] == (
        FieldMDPSpec(FieldMDPAction.INCLUDE, ["homeroom_teacher"]),
        None,
    )
    assert locks["principal"] == (
        FieldMDPSpec(FieldMDPAction.INCLUDE, ["homeroom_teacher", "principal"]),
        None,
    )
    assert locks["school_seal"] == (FieldMDPSpec(FieldMDPAction.ALL), 1)
    # Signature boxes lie side by side, in signing order.
    rects = [float(ref.get_object()["/Rect"][0]) for _, _, ref in fields]
    assert rects == sorted(rects)


def test_the_record_json_is_attached(validated: dict[str, Any], pdf: bytes) -> None:
    names = reader(pdf).root["/Names"]["/EmbeddedFiles"]["/Names"]
    assert names[0] == EMBEDDED_RECORD_NAME
    spec = names[1].get_object()
    assert spec["/UF"] == EMBEDDED_RECORD_NAME
    stream = spec["/EF"]["/F"].get_object()
    assert stream.data == record_json(validated)
    assert stream["/Subtype"] == "/application/json"
    assert stream["/Params"]["/Size"] == len(record_json(validated))


def test_the_page_prints_the_sha256_of_the_attachment(
    validated: dict[str, Any], pdf: bytes
) -> None:
    text = pdf_text(pdf)
    assert hashlib.sha256(record_json(validated)).hexdigest() in text


def test_vietnamese_text_with_diacritics(validated: dict[str, Any], pdf: bytes) -> None:
    text = pdf_text(pdf)
    record = validated["record"]
    student = record["student"]
    expected = [
        "HỌC BẠ",
        f"Kết quả học tập, rèn luyện năm học {record['school_year']}",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        student["full_name"],
        student["mother_name"],
        student["student_id"],
        record["school"]["school_code"],
        record["school"]["school_name"].upper(),
        "Giới tính",
        "Ngày sinh",
        "Môn học và hoạt động giáo dục",
        "Tiếng Việt",
        "Lịch sử và Địa lí",
        "Âm nhạc",
        "Mĩ thuật",
        "Điểm KTĐK",
        "Phẩm chất chủ yếu",
        "Năng lực chung",
        "Năng lực đặc thù",
        "Giải quyết",
        "Đánh giá kết quả giáo dục",
        "Khen thưởng",
        validated["completion_statement"],
        "Mã số tra cứu học bạ",
        IDENTITY.lookup_code,
        "Mã số định danh",
        student["national_id"],
        "Ngày hiệu lực: thời điểm ký của con dấu nhà trường",
        f"{IDENTITY.record_id}, phiên bản 1",
        IDENTITY.verify_url,
        "Giáo viên chủ nhiệm",
        "Hiệu trưởng (ký, ghi rõ họ tên)",
        "Con dấu nhà trường",
        record["homeroom_teacher"],
        record["principal"],
        "Trang 1/1",
    ]
    missing = [item for item in expected if item not in text]
    assert not missing, missing
    assert "Đính chính" not in text


def page_fonts(pdf: bytes) -> dict[str, str]:
    """Font resource name -> base font name, on the first page."""
    fonts = reader(pdf).root["/Pages"]["/Kids"][0].get_object()["/Resources"]["/Font"]
    return {str(key): str(fonts[key]["/BaseFont"]) for key in fonts}


def test_letters_beyond_the_alphabet_print_from_further_subsets(
    validated: dict[str, Any], fonts: PageFonts, pdf: bytes
) -> None:
    record = dict(validated["record"])
    greek = "Ωμέγα “Ánh” ©"
    cyrillic = "".join(map(chr, range(0x410, 0x450))) * 2 + "".join(map(chr, range(0x460, 0x520)))
    record["student"] = dict(record["student"], full_name=greek, mother_name=cyrillic + " 李")
    changed = render_year_page(
        dict(validated, record=record), IDENTITY, record_json(validated), fonts
    )
    text = pdf_text(changed)
    assert greek in text
    assert cyrillic in "".join(text.split())  # cut over several lines
    # 8 + 256 letters beyond the alphabet, all in the regular font: two more subsets of it (255
    # letters each at most, code 0 being .notdef). 李 is not in DejaVu Sans: .notdef, as before.
    names = page_fonts(changed)
    assert sorted(names) == ["/B0", "/R0", "/R1", "/R2"]
    assert len(set(names.values())) == 4
    # The alphabet subsets are the same on every page.
    assert names["/R0"] == page_fonts(pdf)["/R0"] and names["/B0"] == page_fonts(pdf)["/B0"]


def test_a_correction_names_the_version_and_the_reason(
    validated: dict[str, Any], fonts: PageFonts
) -> None:
    identity = dataclasses.replace(
        IDENTITY,
        version=2,
        supersedes_version=1,
        correction_reason="Sửa điểm kiểm tra định kỳ môn Toán theo kết quả kiểm tra lại.",
    )
    text = pdf_text(render_year_page(validated, identity, record_json(validated), fonts))
    assert "Đính chính phiên bản 1: Sửa điểm kiểm tra định kỳ môn Toán" in text
    assert f"{IDENTITY.record_id}, phiên bản 2" in text
    # The pipeline may not know the reason: the page says it was not recorded.
    unexplained = dataclasses.replace(
        identity, version=3, supersedes_version=2, correction_reason=None
    )
    text = pdf_text(render_year_page(validated, unexplained, record_json(validated), fonts))
    assert "Đính chính phiên bản 2: lý do đính chính không được ghi kèm" in text


def drawn_qr(pdf: bytes) -> list[str]:
    """The QR code drawn on the last page, read back from its rectangles (module units)."""
    document = reader(pdf)
    kids = document.root["/Pages"]["/Kids"]
    content = kids[len(kids) - 1].get_object()["/Contents"].data.decode("latin-1")
    runs = [tuple(map(int, m)) for m in re.findall(r"^(\d+) (\d+) (\d+) 1 re$", content, re.M)]
    size = max(x + width for x, _, width in runs)
    rows = [["0"] * size for _ in range(size)]
    for x, y, width in runs:
        rows[y][x : x + width] = ["1"] * width
    return ["".join(row) for row in rows]


def test_the_qr_code_encodes_the_verification_url(
    validated: dict[str, Any], fonts: PageFonts, pdf: bytes
) -> None:
    layout = lay_out(page_content(validated, IDENTITY, "0" * 64), register_fonts(fonts))
    assert [op.payload for op in layout.pages[-1] if isinstance(op, Qr)] == [IDENTITY.verify_url]
    assert drawn_qr(pdf) == qr_rows(IDENTITY.verify_url)


def reportlab_qr(payload: str, version: int, mask: int) -> list[str]:
    """reportlab's QR code of ``payload`` (bytes, level M) with the given version and mask."""
    code = qrencoder.QRCode(version, qrencoder.QRErrorCorrectLevel.M)
    code.addData(payload)
    code.makeImpl(False, mask)
    return ["".join("1" if dark else "0" for dark in row) for row in code.modules]


def format_mask(rows: list[str]) -> tuple[int, int]:
    """(level bits, mask) from the first copy of the format information."""
    places = [(8, i) for i in range(6)] + [(8, 7), (8, 8), (7, 8)]
    places += [(14 - i, 8) for i in range(9, 15)]
    bits = sum(1 << i for i, (x, y) in enumerate(places) if rows[y][x] == "1") ^ 0x5412
    return bits >> 13, bits >> 10 & 7


def penalty(rows: list[str]) -> int:
    """ISO/IEC 18004 § 7.8.3 penalty, module by module (the quiet zone counts as light)."""
    size = len(rows)
    lines = rows + ["".join(row[x] for row in rows) for x in range(size)]
    total = sum(len(run) - 2 for line in lines for run in re.findall(r"0{5,}|1{5,}", line))
    total += 3 * sum(
        rows[y][x] == rows[y][x + 1] == rows[y + 1][x] == rows[y + 1][x + 1]
        for y in range(size - 1)
        for x in range(size - 1)
    )
    for line in lines:
        quiet = f"0000{line}0000"
        total += 40 * sum(
            quiet.startswith(pattern, i)
            for i in range(len(quiet))
            for pattern in ("10111010000", "00001011101")
        )
    dark = sum(row.count("1") for row in rows)
    return total + 10 * (abs(20 * dark - 10 * size * size) // (size * size))


@pytest.mark.parametrize("length", [1, 17, 50, 78, 154, 213, 400, 1000, 2331])
def test_the_qr_code_is_reportlabs_with_the_mask_of_lowest_penalty(length: int) -> None:
    payload = ("https://hocba.edu.vn/xac-minh/" + "hb7k2m9q4r8t1v3w5x/" * 130)[:length]
    rows = qr_rows(payload)
    version = (len(rows) - 17) // 4
    level, mask = format_mask(rows)
    assert level == 0b00  # M
    # The smallest version that holds the bytes (byte mode: 4 + 8 or 16 bits of header).
    assert len(rows) == 4 * version + 17
    if version > 1:
        smaller = qrencoder.QRRSBlock.getRSBlocks(version - 1, qrencoder.QRErrorCorrectLevel.M)
        header = 12 if version - 1 < 10 else 20
        assert header + 8 * length > 8 * sum(block.dataCount for block in smaller)
    # An independent encoder draws the same symbol with that mask, and no mask scores lower.
    assert rows == reportlab_qr(payload, version, mask)
    if version <= 10:
        scores = [penalty(reportlab_qr(payload, version, m)) for m in range(8)]
        assert scores.index(min(scores)) == mask


def test_a_payload_too_long_for_a_qr_code_is_refused() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        qr_rows("x" * 2332)


def test_every_synthetic_record_fits_on_one_page(fonts: PageFonts) -> None:
    names = register_fonts(fonts)
    grades = set()
    for validated in _validated_records(6, seed=5):
        layout = lay_out(page_content(validated, IDENTITY, "0" * 64), names)
        assert len(layout.pages) == 1, validated["record_key"]
        grades.add(validated["record"]["grade"])
    assert grades == {1, 2, 3, 4, 5}


def test_a_record_too_long_for_one_page_continues_and_is_signed_on_the_last(
    validated: dict[str, Any], fonts: PageFonts
) -> None:
    long_record = dict(validated, record=dict(validated["record"]))
    subjects = []
    for subject in validated["record"]["subjects"]:
        periods = [
            dict(p, comment=(p["comment"] or "") + " Em cần cố gắng hơn." * 30)
            for p in subject["periods"]
        ]
        subjects.append(dict(subject, periods=periods))
    long_record["record"]["subjects"] = subjects
    pdf = render_year_page(long_record, IDENTITY, record_json(validated), fonts)
    document = reader(pdf)
    count = document.root["/Pages"]["/Count"]
    assert count >= 2
    last_page = document.root["/Pages"]["/Kids"][count - 1].get_object()
    assert len(last_page["/Annots"]) == 3
    text = pdf_text(pdf)
    assert f"Trang {count}/{count}" in text
    assert "HỌC BẠ (tiếp theo)" in text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lookup_code": "7K2M-9Q4R-8T1V-3W5X-1"}, "not a canonical lookup code"),
        ({"lookup_code": IDENTITY.lookup_code.lower()}, "not a canonical lookup code"),
        ({"version": 0}, "version must be 1 or more"),
        ({"record_id": " "}, "record_id is empty"),
        ({"verify_url": ""}, "verify_url is empty"),
        ({"supersedes_version": 1}, "cannot supersede"),
        ({"correction_reason": "Sai tên"}, "without supersedes_version"),
        ({"supersedes_version": 1, "correction_reason": "Sai tên"}, "cannot supersede"),
        ({"version": 2, "supersedes_version": 1, "correction_reason": " "}, "reason is empty"),
    ],
)
def test_a_malformed_identity_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(RecordPageError, match=message):
        dataclasses.replace(IDENTITY, **change)


def test_a_datum_that_is_not_a_validated_record_is_refused(fonts: PageFonts) -> None:
    with pytest.raises(RecordPageError, match="not a ValidatedRecord datum"):
        render_year_page({"record": {"student": {}}}, IDENTITY, b"{}", fonts)


def test_a_font_without_vietnamese_letters_or_not_a_font_is_refused(fonts: PageFonts) -> None:
    with pytest.raises(RecordPageError, match="not a usable TrueType font"):
        register_fonts(PageFonts(b"not a font", fonts.bold))
    with pytest.raises(RecordPageError, match="lacks Vietnamese letters"):
        # Bitstream Vera, shipped with reportlab: Latin, but no ơ, ư, ạ ...
        vera = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
        register_fonts(PageFonts(vera.read_bytes(), fonts.bold))
