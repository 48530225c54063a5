"""``hocba generate``: a synthetic school year, and the generated artefacts of the core.

Records (default): schools x grades x classes x students, seeded and reproducible.
Output formats (``--format``):

* ``jsonl`` (default): one YearRecord (or, with ``--events``, one VendorEvent) a line,
  in the JSON form of the schema;
* ``avro``: an Avro object container file;
* ``avro-single``: a sequence of single-object messages, each preceded by its length as
  4 bytes big-endian (``hocba validate`` reads it back).

``--manifest FILE`` writes one JSON line per record: its sequence number, key, the
error codes it was made to produce (``expected_codes``; empty for a valid record) and,
with ``--events``, the ids of its events.

Generated sources: ``--error-catalogue [PATH]`` writes docs/errors.md and
``--avro-types [PATH]`` writes services/core/avro_types.py from the schemas.
"""

from __future__ import annotations

import argparse
import json
import random
import struct
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import fastavro
from rich.console import Console
from rich.progress import Progress

from services.core.errors_doc import EXAMPLES_DIR, render_error_catalogue
from services.core.events import vendor_events
from services.core.record import record_key, year_record_to_avro
from services.core.synthetic import GeneratorSettings, generate_school_year
from services.core.typegen import AVRO_TYPES_MESSAGES, render_avro_types
from services.messaging.codec import default_codec
from services.messaging.jsonform import to_json
from services.messaging.schemas import default_registry

__all__ = ["avro_types_text", "error_catalogue_text", "example_files", "register"]

_ROOT = Path(__file__).resolve().parents[2]
_ERRORS_DOC = _ROOT / "docs" / "errors.md"
_AVRO_TYPES = _ROOT / "services" / "core" / "avro_types.py"
# Above this many records a progress bar is worth showing.
_PROGRESS_THRESHOLD = 2000


def example_files(root: Path = _ROOT) -> dict[str, str]:
    """Code -> path (relative to the repository) of its example in schemas/examples/invalid/."""
    folder = root / EXAMPLES_DIR / "invalid"
    return {
        path.name.split(".", 1)[0]: path.relative_to(root).as_posix()
        for path in sorted(folder.glob("*.*"))
    }


def error_catalogue_text() -> str:
    """docs/errors.md as it should be."""
    return render_error_catalogue(example_files())


def avro_types_text() -> str:
    """services/core/avro_types.py as it should be."""
    registry = default_registry()
    return render_avro_types([registry.current(n).expanded for n in AVRO_TYPES_MESSAGES])


def _write_text(target: Path, text: str) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}", file=sys.stderr)
    return 0


def _settings(args: argparse.Namespace) -> GeneratorSettings:
    grades = tuple(int(g) for g in args.grades.split(","))
    return GeneratorSettings(
        school_year=args.school_year,
        schools=args.schools,
        classes_per_grade=args.classes,
        students_per_class=args.students,
        grades=grades,
        invalid_share=args.invalid_share,
        # A year-end submission always carries a completion: not expressible as events.
        exclude_codes=frozenset({"E_COMPLETION_MISSING"}) if args.events else frozenset(),
    )


def _messages(args: argparse.Namespace, manifest: IO[str] | None) -> Iterator[dict[str, Any]]:
    settings = _settings(args)
    total = settings.schools * len(settings.grades) * settings.classes_per_grade
    total *= settings.students_per_class
    event_rng = random.Random(f"{args.seed}/events")
    console = Console(stderr=True)
    with Progress(console=console, disable=total < _PROGRESS_THRESHOLD) as progress:
        task = progress.add_task("generating records", total=total)
        for generated in generate_school_year(settings, seed=args.seed):
            record = generated.record
            entry: dict[str, Any] = {
                "sequence": generated.sequence,
                "record_key": record_key(record),
                "expected_codes": list(generated.expected_codes),
            }
            if args.events:
                events = vendor_events(record, args.vendor_id, event_rng)
                entry["event_ids"] = [e["event_id"] for e in events]
                yield from (dict(e) for e in events)
            else:
                yield year_record_to_avro(record)
            if manifest is not None:
                manifest.write(json.dumps(entry, ensure_ascii=False) + "\n")
            progress.advance(task)


def _generate(args: argparse.Namespace) -> int:
    if not 0.0 <= args.invalid_share <= 1.0:
        print("hocba generate: --invalid-share must be between 0 and 1", file=sys.stderr)
        return 2
    name = "vn.edu.hocba.VendorEvent" if args.events else "vn.edu.hocba.YearRecord"
    schema = default_registry().current(name)
    manifest = open(args.manifest, "w", encoding="utf-8") if args.manifest else None  # noqa: SIM115
    binary = args.format != "jsonl"
    if args.output in (None, "-"):
        out: IO[Any] = sys.stdout.buffer if binary else sys.stdout
        close = False
    else:
        out = open(args.output, "wb" if binary else "w", encoding=None if binary else "utf-8")  # noqa: SIM115
        close = True
    try:
        messages = _messages(args, manifest)
        if args.format == "jsonl":
            for message in messages:
                out.write(json.dumps(to_json(schema, message), ensure_ascii=False) + "\n")
        elif args.format == "avro":
            fastavro.writer(out, schema.parsed, messages, codec="deflate")
        else:
            codec = default_codec()
            for message in messages:
                body = codec.encode(name, message)
                out.write(struct.pack(">I", len(body)) + body)
    finally:
        if manifest is not None:
            manifest.close()
        if close:
            out.close()
        else:
            out.flush()
    return 0


def _run(args: argparse.Namespace) -> int:
    if args.error_catalogue is not None:
        return _write_text(Path(args.error_catalogue), error_catalogue_text())
    if args.avro_types is not None:
        return _write_text(Path(args.avro_types), avro_types_text())
    return _generate(args)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="generate a synthetic school year (records or vendor events), or generated sources",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--schools", type=int, default=2, help="number of schools (default 2)")
    parser.add_argument("--classes", type=int, default=1, help="classes per grade per school")
    parser.add_argument("--students", type=int, default=20, help="students per class")
    parser.add_argument("--grades", default="1,2,3,4,5", help="grades, comma-separated")
    parser.add_argument("--school-year", default="2024-2025", help="năm học, 'YYYY-YYYY'")
    parser.add_argument(
        "--invalid-share", type=float, default=0.0, help="share of invalid records, 0-1"
    )
    parser.add_argument("--events", action="store_true", help="emit VendorEvents, not records")
    parser.add_argument("--vendor-id", default="vendor-demo", help="vendor id of the events")
    parser.add_argument(
        "--format", choices=("jsonl", "avro", "avro-single"), default="jsonl", help="output"
    )
    parser.add_argument("-o", "--output", default=None, help="output file (default stdout)")
    parser.add_argument("--manifest", default=None, help="write the expected codes here")
    parser.add_argument(
        "--error-catalogue",
        nargs="?",
        const=str(_ERRORS_DOC),
        default=None,
        metavar="PATH",
        help=f"write the error catalogue page instead (default {_ERRORS_DOC})",
    )
    parser.add_argument(
        "--avro-types",
        nargs="?",
        const=str(_AVRO_TYPES),
        default=None,
        metavar="PATH",
        help=f"write the generated Avro typing module instead (default {_AVRO_TYPES})",
    )
    parser.set_defaults(handler=_run)
