"""Benchmark: year records validated + classified per second on one core.

Run: ``python -m tests.perf.bench_validate [N]`` (not collected by pytest: no test_ prefix).
Generates N records with the seeded generator, then measures, best of a few runs,
``validate_year_record`` (every rule and the classification) and, as a baseline in the
same run, the raw fastavro schemaless decode of the same records: the Avro body only
(no single-object header, no fingerprint lookup, no schema resolution), with the
already-parsed writer schema, through fastavro's C extension when it is installed
(the line says which). It is the cost of merely reading a record off the wire.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import fastavro
import fastavro.read

from services.core.synthetic import GeneratorSettings, generate_school_year
from services.core.validation import validate_year_record
from services.messaging.codec import HEADER_SIZE, default_codec

TARGET_PER_SECOND = 20_000
RUNS = 5


def best_seconds(items: Sequence[Any], work: Callable[[Any], object]) -> float:
    best = float("inf")
    for _ in range(RUNS):
        start = time.perf_counter()
        for item in items:
            work(item)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: Sequence[str]) -> int:
    count = int(argv[0]) if argv else 20_000
    per_class = 25
    schools = max(1, count // (5 * per_class))
    settings = GeneratorSettings(schools=schools, students_per_class=per_class, invalid_share=0.05)
    records = [g.record for g in generate_school_year(settings, seed=1)][:count]
    codec = default_codec()
    encoded = [codec.encode("vn.edu.hocba.YearRecord", r) for r in records]

    parsed = codec.registry.current("vn.edu.hocba.YearRecord").parsed
    bodies = [b[HEADER_SIZE:] for b in encoded]
    # fastavro.read re-exports the Cython reader (fastavro._read) when it is built, else the
    # pure-Python one (fastavro._read_py): say which, since they differ about 2x.
    reader = fastavro.read.schemaless_reader
    implementation = "C extension" if reader.__module__ == "fastavro._read" else "pure Python"

    validate = best_seconds(records, validate_year_record)
    decode = best_seconds(bodies, lambda body: reader(io.BytesIO(body), parsed, None))
    n = len(records)
    rate = n / validate
    print(f"records: {n} (avg {sum(map(len, encoded)) / n:.0f} Avro bytes), best of {RUNS} runs")
    print(f"validate+classify: {rate:,.0f} records/s, {validate / n * 1e6:.1f} µs/record")
    print(
        f"baseline fastavro {fastavro.__version__} schemaless decode ({implementation}): "
        f"{n / decode:,.0f} records/s, {decode / n * 1e6:.1f} µs/record"
    )
    print(f"ratio validate/decode throughput: {decode / validate:.2f}x")
    print(f"target {TARGET_PER_SECOND:,}/s: {'met' if rate >= TARGET_PER_SECOND else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
