"""The HTTP entry: ``POST /v1/events`` for vendors that do not speak Kafka.

The shortest use (one event, JSON form of schemas/VendorEvent.avsc)::

    curl -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" \\
         -d '{"events": [{"event_id": "...", "vendor_id": "...", ...}]}' \\
         http://127.0.0.1:8081/v1/events

The answer lists one result per event, in order: ``accepted``, ``duplicate`` (already
ingested with the same content; not forwarded again) or ``rejected`` with every coded
finding. Accepted events are on ``hocba.events.accepted`` (idempotent producer,
``acks=all``, awaited) before the answer is sent; their ids are recorded afterwards.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from services.core.findings import CATALOGUE, Finding, finding
from services.ingestion.envelope import VENDOR_EVENT, vendor_event_schema
from services.ingestion.handlers import Candidate, Ingestor, Judgement, outgoing
from services.ingestion.settings import IngestionSettings
from services.ingestion.store import StoreUnavailableError
from services.ingestion.tokens import bearer_token, token_sha256
from services.messaging.codec import HEADER_SIZE, AvroCodec, EncodeError
from services.messaging.jsonform import JsonFormError, from_json

__all__ = ["EVENTS_ROUTE", "OPENAPI_ROUTE", "HttpEntry", "load_openapi"]

_log = logging.getLogger("hocba.ingestion.http")
EVENTS_ROUTE = "/v1/events"
OPENAPI_ROUTE = "/v1/openapi.json"
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_DB_DOWN = ("the vendor directory did not answer", "danh mục nhà cung cấp không phản hồi")
_dumps = functools.partial(json.dumps, ensure_ascii=False)


def load_openapi(path: Path) -> dict[str, Any]:
    """The OpenAPI document (docs/openapi/ingestion.json), read once at start."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path}: an OpenAPI document is a JSON object")
    return document


def _error(status: int, code: str, detail_en: str = "", detail_vi: str = "") -> web.Response:
    info = CATALOGUE[code]
    answer = finding(
        code,
        "",
        f"{info.title_vi}{': ' + detail_vi if detail_vi else ''}",
        f"{info.title_en}{': ' + detail_en if detail_en else ''}",
    )
    headers = {"WWW-Authenticate": 'Bearer realm="hocba"'} if status == 401 else None
    return web.json_response(
        {"error": code, "findings": [answer.to_avro()]},
        status=status,
        headers=headers,
        dumps=_dumps,
    )


def _schema_findings(error: JsonFormError) -> tuple[Finding, ...]:
    return tuple(
        finding(
            "E_SCHEMA_MISMATCH",
            problem.path,
            f"không đúng lược đồ VendorEvent tại {problem.path or '(gốc)'}: {problem.message}",
            f"does not fit the VendorEvent schema at {problem.path or '(root)'}: {problem.message}",
        )
        for problem in error.problems
    )


def _result(j: Judgement) -> dict[str, Any]:
    event_id = j.candidate.envelope.get("event_id")
    return {
        "event_id": event_id if isinstance(event_id, str) else None,
        "status": j.outcome,
        "findings": [f.to_avro() for f in j.findings],
    }


class HttpEntry:
    """The routes of the HTTP entry; the producer is started and stopped by the app."""

    def __init__(
        self,
        *,
        ingestor: Ingestor,
        codec: AvroCodec,
        producer: AIOKafkaProducer,
        settings: IngestionSettings,
        openapi: dict[str, Any],
    ) -> None:
        self.ingestor = ingestor
        self.codec = codec
        self.producer = producer
        self.settings = settings
        self._openapi = openapi
        self.ready = False

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post(EVENTS_ROUTE, self._timed(EVENTS_ROUTE, self.post_events)),
            web.get(OPENAPI_ROUTE, self._timed(OPENAPI_ROUTE, self.openapi)),
        ]

    def _timed(self, route: str, handler: _Handler) -> _Handler:
        metrics = self.ingestor.metrics

        async def timed(request: web.Request) -> web.StreamResponse:
            started = time.perf_counter()
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            finally:
                metrics.http_seconds.labels(metrics.service, route, str(status)).observe(
                    time.perf_counter() - started
                )

        return timed

    async def openapi(self, request: web.Request) -> web.Response:
        return web.json_response(self._openapi)

    async def post_events(self, request: web.Request) -> web.Response:
        token = bearer_token(request.headers.get("Authorization"))
        if token is None:
            return _error(
                401,
                "E_TOKEN_MISSING",
                "send 'Authorization: Bearer <token>'",
                "gửi tiêu đề 'Authorization: Bearer <mã truy cập>'",
            )
        try:
            vendor = await self.ingestor.store.token_vendor(token_sha256(token))
        except StoreUnavailableError:
            return _error(503, "E_SERVICE_UNAVAILABLE", *_DB_DOWN)
        if vendor is None:
            return _error(401, "E_TOKEN_INVALID")
        documents = await self._documents(request)
        if isinstance(documents, web.Response):
            return documents
        self.ingestor.metrics.http_batch_size.labels(self.ingestor.metrics.service).observe(
            len(documents)
        )
        candidates = [self._read(document) for document in documents]
        try:
            judgements = await self.ingestor.judge(candidates, "HTTP", authenticated_vendor=vendor)
        except StoreUnavailableError:
            return _error(503, "E_SERVICE_UNAVAILABLE", *_DB_DOWN)
        try:
            await self._produce(judgements, vendor)
        except KafkaError as exc:
            _log.error("cannot produce %d events: %s", len(judgements), type(exc).__name__)
            return _error(
                503,
                "E_SERVICE_UNAVAILABLE",
                "Kafka did not acknowledge the events",
                "Kafka chưa xác nhận các sự kiện",
            )
        self.ingestor.count(judgements, "HTTP")
        await self._record(judgements)
        tally = {outcome: 0 for outcome in ("accepted", "duplicate", "rejected")}
        for j in judgements:
            tally[j.outcome] += 1
        return web.json_response(
            {"vendor_id": vendor, **tally, "results": [_result(j) for j in judgements]},
            dumps=_dumps,
        )

    async def _documents(self, request: web.Request) -> list[Any] | web.Response:
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            return _error(
                400, "E_REQUEST_NOT_JSON", "the body is not JSON", "nội dung không phải JSON"
            )
        events = body.get("events") if isinstance(body, dict) else None
        if not isinstance(events, list):
            return _error(
                400, "E_REQUEST_INVALID", 'expected {"events": [...]}', 'cần {"events": [...]}'
            )
        limit = self.settings.max_http_events
        if len(events) > limit:
            return _error(
                413,
                "E_BATCH_TOO_LARGE",
                f"{len(events)} events, at most {limit} per request",
                f"{len(events)} sự kiện, tối đa {limit} mỗi yêu cầu",
            )
        return events

    def _read(self, document: Any) -> Candidate:
        """Convert one JSON event; encoding it at once also proves Avro can carry it."""
        hints = document if isinstance(document, dict) else {}
        try:
            event = from_json(vendor_event_schema(), document)
            body = self.codec.encode(VENDOR_EVENT, event)[HEADER_SIZE:]
        except JsonFormError as exc:
            return Candidate(None, _schema_findings(exc), hints=hints)
        except EncodeError as exc:
            problem = finding(
                "E_SCHEMA_MISMATCH",
                "",
                "sự kiện không mã hoá được theo lược đồ VendorEvent (giá trị ngoài phạm vi)",
                f"the event cannot be encoded as VendorEvent: {exc.detail}"[:500],
            )
            return Candidate(None, (problem,), hints=hints)
        return Candidate(event, avro_body=body)

    async def _produce(self, judgements: list[Judgement], vendor: str) -> None:
        """Send every answer and wait until the broker has acknowledged all of them."""
        now = self.ingestor.clock()
        acks = []
        for j in judgements:
            for out in outgoing(j, "HTTP", now, self.codec, self.settings, vendor_id=vendor):
                acks.append(
                    await self.producer.send(
                        out.topic, out.value, key=out.key, headers=list(out.headers) or None
                    )
                )
        await asyncio.gather(*acks)

    async def _record(self, judgements: list[Judgement]) -> None:
        """Remember the accepted transfers, then ids, after they are durable (handlers.py)."""
        accepted = [j.ingested() for j in judgements if j.outcome == "accepted"]
        transfers = [t for t in (j.transfer() for j in judgements) if t is not None]
        if transfers:
            store = self.ingestor.store
            unrecorded = await self.ingestor.remember_transfers(
                transfers, lambda: store.record_transfers(transfers)
            )
            accepted = [a for a in accepted if str(a.event_id) not in unrecorded]
        if not accepted:
            return
        try:
            await self.ingestor.store.record_events(accepted)
        except StoreUnavailableError:
            metrics = self.ingestor.metrics
            metrics.dedup_record_failures.labels(metrics.service).inc(len(accepted))
            _log.error("could not record %d accepted event ids", len(accepted))
