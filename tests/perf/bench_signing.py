"""Signing benchmark: year pages rendered and fully signed per second, against a naive baseline.

Run (no stack needed; the dev PKI is built in a temporary directory and served on loopback)::

    .venv/bin/python -m tests.perf.bench_signing [--records 30]

Prints, in the same run, on the same machine and PKI (RSA-2048 keys, RFC 3161 timestamps
from the local TSA, OCSP/CRL from the local responder):

* naive: render the page, then sign it three times with pyhanko's defaults (the key file
  loaded per signature, pyhanko's default stamp, its own revocation fetching) —
  one record at a time;
* platform: render + teacher + principal + seal + document timestamp (B-LTA) with
  ``services.signing`` (what the signing service does for each page);
* the ratio, and where the platform's time goes per step (median milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

from pyhanko.sign import signers
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko_certvalidator import ValidationContext

from services.core.lookup_code import new_lookup_code
from services.core.outcome import outcome_message
from services.core.record import year_record_from_avro
from services.core.record_page import SIGNATURE_FIELDS, PageFonts, PageIdentity, render_year_page
from services.core.synthetic import GeneratorSettings, generate_school_year
from services.core.validation import validate_year_record
from services.messaging.codec import default_codec
from services.messaging.jsonform import canonical_json
from services.signing.backends import Pkcs12Config, load_pkcs12_signer
from services.signing.devpki import build_dev_pki, serve_dev_pki
from services.signing.pades import SigningServices, add_archive_timestamp, sign_field

FONTS = Path("/usr/share/fonts/truetype/dejavu")
ROLES = {"HOMEROOM_TEACHER": "homeroom_teacher", "PRINCIPAL": "principal"}
ROLES["SCHOOL_SEAL"] = "school_seal"


def pages(count: int) -> list[tuple[dict[str, object], bytes]]:
    """ValidatedRecord datums and their canonical record JSON, from generated records."""
    codec = default_codec()
    schema = codec.registry.current("vn.edu.hocba.YearRecord")
    now = dt.datetime.now(dt.UTC)
    found: list[tuple[dict[str, object], bytes]] = []
    # ≈ 100 records a school, some with planted errors (skipped): enough schools for ``count``.
    schools = max(2, count // 80 + 1)
    for generated in generate_school_year(GeneratorSettings(schools=schools), seed=11):
        if generated.expected_codes:
            continue
        record = year_record_from_avro(generated.record)
        _, datum = outcome_message(
            record,
            validate_year_record(record),
            vendor_id="v",
            validated_at=now,
            source_event_ids=[],
        )
        found.append((dict(datum), canonical_json(schema, datum["record"])))
        if len(found) == count:
            break
    return found


def render(datum: dict[str, object], record_json: bytes, fonts: PageFonts) -> bytes:
    code = new_lookup_code()
    identity = PageIdentity("HB0000000000000000", 1, code, f"http://127.0.0.1/tra-cuu/{code}")
    return render_year_page(datum, identity, record_json, fonts)


async def naive(
    records: list[tuple[dict[str, object], bytes]], pki, tsa_url: str, fonts: PageFonts
) -> list[float]:
    timestamper = HTTPTimeStamper(tsa_url)
    roots = [pki.root_cert]
    times = []
    for datum, record_json in records:
        started = time.perf_counter()
        pdf = render(datum, record_json, fonts)
        for role in ROLES.values():
            signer = signers.SimpleSigner.load(
                str(pki.key_pem(role)),
                str(pki.cert_pem(role)),
                ca_chain_files=[str(c) for c in pki.chain],
            )
            assert signer is not None, f"pyhanko could not load the {role} key"
            from pyhanko.keys import load_certs_from_pemder

            context = ValidationContext(
                trust_roots=load_certs_from_pemder([str(r) for r in roots]), allow_fetching=True
            )
            from io import BytesIO

            from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

            writer = IncrementalPdfFileWriter(BytesIO(pdf))
            meta = signers.PdfSignatureMetadata(
                field_name=role, embed_validation_info=True, validation_context=context
            )
            out = await signers.PdfSigner(meta, signer, timestamper=timestamper).async_sign_pdf(
                writer
            )
            pdf = out.getvalue()
        times.append(time.perf_counter() - started)
    return times


async def platform(
    records: list[tuple[dict[str, object], bytes]], pki, tsa_url: str, fonts: PageFonts
) -> tuple[list[float], dict[str, list[float]]]:
    """One record at a time: time per record and per step."""
    services = SigningServices.create(tsa_url, [pki.root_cert])
    keys = {
        role: load_pkcs12_signer(Pkcs12Config(pki.p12(role), pki.p12_passphrase))
        for role in ROLES.values()
    }
    steps: dict[str, list[float]] = {}
    times = []
    try:
        for datum, record_json in records:
            started = time.perf_counter()
            mark = started
            pdf = render(datum, record_json, fonts)
            steps.setdefault("render", []).append(time.perf_counter() - mark)
            for role_symbol, field in SIGNATURE_FIELDS.items():
                mark = time.perf_counter()
                pdf = (
                    await sign_field(
                        pdf,
                        field,
                        keys[ROLES[role_symbol]],
                        services,
                        reason="bench",
                        appearance_text=role_symbol,
                    )
                ).pdf
                steps.setdefault(field, []).append(time.perf_counter() - mark)
            mark = time.perf_counter()
            await add_archive_timestamp(pdf, services)
            steps.setdefault("archive timestamp", []).append(time.perf_counter() - mark)
            times.append(time.perf_counter() - started)
    finally:
        await services.close()
    return times, steps


async def _sign_many(
    records: list[tuple[dict[str, object], bytes]],
    pki,
    tsa_url: str,
    fonts: PageFonts,
    concurrency: int,
) -> int:
    """Render and fully sign ``records``, ``concurrency`` at a time (as the service does)."""
    services = SigningServices.create(tsa_url, [pki.root_cert])
    keys = {
        role: load_pkcs12_signer(Pkcs12Config(pki.p12(role), pki.p12_passphrase))
        for role in ROLES.values()
    }
    limit = asyncio.Semaphore(concurrency)

    async def one(datum: dict[str, object], record_json: bytes) -> int:
        async with limit:
            pdf = render(datum, record_json, fonts)
            for role_symbol, field in SIGNATURE_FIELDS.items():
                signed = await sign_field(
                    pdf,
                    field,
                    keys[ROLES[role_symbol]],
                    services,
                    reason="bench",
                    appearance_text=role_symbol,
                )
                pdf = signed.pdf
            return len(await add_archive_timestamp(pdf, services))

    try:
        await one(*records[0])  # warm: revocation data, stamp fonts
        return len(await asyncio.gather(*(one(d, j) for d, j in records[1:])))
    finally:
        await services.close()


def _worker(
    directory: str, tsa_url: str, count: int, concurrency: int, start: multiprocessing.Event
) -> tuple[int, float, float]:
    """A signing process: (records signed, wall seconds, CPU seconds) after ``start``."""
    from services.signing.devpki import DevPki

    fonts = _fonts()
    records = pages(count + 1)
    pki = DevPki(Path(directory))
    start.wait()
    wall, cpu = time.perf_counter(), time.process_time()
    done = asyncio.run(_sign_many(records, pki, tsa_url, fonts, concurrency))
    return done, time.perf_counter() - wall, time.process_time() - cpu


def throughput(
    directory: Path, tsa_url: str, workers: int, per_worker: int, concurrency: int
) -> tuple[float, float]:
    """Records/s fully signed by ``workers`` processes, and CPU ms per record in them."""
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(workers) as pool:
            jobs = [
                pool.apply_async(_worker, (str(directory), tsa_url, per_worker, concurrency, start))
                for _ in range(workers)
            ]
            time.sleep(3.0)  # let every worker import and prepare its records
            began = time.perf_counter()
            start.set()
            results = [job.get() for job in jobs]
            elapsed = time.perf_counter() - began
    done = sum(r[0] for r in results)
    cpu = sum(r[2] for r in results)
    return done / elapsed, cpu / done * 1000


def _fonts() -> PageFonts:
    return PageFonts(
        (FONTS / "DejaVuSans.ttf").read_bytes(), (FONTS / "DejaVuSans-Bold.ttf").read_bytes()
    )


def _child_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def main(args: argparse.Namespace) -> None:
    fonts = _fonts()
    records = pages(args.records + 1)
    with tempfile.TemporaryDirectory() as directory:
        pki = build_dev_pki(Path(directory))
        with serve_dev_pki(pki, in_process=False) as served:
            base = await naive(records, pki, served.tsa_url, fonts)
            ours, steps = await platform(records, pki, served.tsa_url, fonts)
            pki_pid = _pki_server_pid()
            pki_cpu = _child_cpu_seconds(pki_pid) if pki_pid else None
            rate, cpu_ms = throughput(
                Path(directory), served.tsa_url, args.workers, args.per_worker, args.concurrency
            )
            pki_cpu = (
                _child_cpu_seconds(pki_pid) - pki_cpu if pki_pid and pki_cpu is not None else None
            )
    # The first record of each warms caches (fonts, OCSP answers): medians of the rest.
    base_s, ours_s = statistics.median(base[1:]), statistics.median(ours[1:])
    print(f"records: {args.records} (RSA-2048, 3 signatures, TSA and OCSP on loopback)")
    print(
        f"naive pyhanko (render + 3 default signatures): {base_s * 1000:,.0f} ms/record "
        f"= {1 / base_s:,.1f} records/s on one core"
    )
    print(
        f"platform, one record at a time (render + 3 signatures B-LT + document timestamp "
        f"B-LTA): {ours_s * 1000:,.0f} ms/record = {1 / ours_s:,.1f} records/s "
        f"({base_s / ours_s:.1f}x the naive one, which does less: no B-LTA)"
    )
    for step, values in steps.items():
        print(f"  {step}: median {statistics.median(values[1:]) * 1000:,.1f} ms")
    total = args.workers * args.per_worker
    print(
        f"platform throughput: {args.workers} processes x {args.concurrency} records at once, "
        f"{total} records: {rate:,.1f} records/s fully signed "
        f"({rate * base_s:.1f}x the naive one-at-a-time rate); "
        f"CPU in the signing processes {cpu_ms:,.1f} ms/record"
    )
    if pki_cpu is not None:
        print(
            f"  the dev PKI server (TSA, OCSP; its own process on the same cores): "
            f"{pki_cpu / total * 1000:,.1f} ms CPU/record "
            f"(in production the TSA and OCSP responder are the CA's machines)"
        )


def _pki_server_pid() -> int | None:
    """The dev PKI child process (``serve_dev_pki(in_process=False)``), if found."""
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == me and b"devpki" in cmdline:
            return int(entry.name)
    return None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=30, help="records timed one at a time")
    parser.add_argument("--workers", type=int, default=2, help="signing processes (cores)")
    parser.add_argument("--per-worker", type=int, default=400, help="records per process")
    parser.add_argument("--concurrency", type=int, default=16, help="records at once per process")
    asyncio.run(main(parser.parse_args()))
