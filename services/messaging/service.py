"""The shell every service runs in: HTTP (/metrics, /healthz, /readyz and the
service's own routes), JSON error logs, and graceful shutdown on SIGTERM/SIGINT.

A service builds its parts in its own ``bootstrap(settings)`` and hands them here
as *workers* (coroutines that run until the stop event is set, then return after
finishing the work in hand) and *readiness checks*.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.messaging.metrics import ServiceMetrics
from services.messaging.settings import SettingsError

__all__ = ["JsonLogFormatter", "ServiceShell", "Worker", "configure_logging"]

Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
ReadyCheck = Callable[[], Coroutine[Any, Any, bool]]


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and any ``extra`` fields."""

    _STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False, default=str)


#: Allocations between young-generation collections (CPython's default is 700).
_GC_YOUNG_THRESHOLD = 20_000


def _tune_garbage_collector() -> None:
    """Fewer, cheaper cyclic-GC passes for a service that decodes batches of messages.

    A batch keeps hundreds of decoded messages alive (≈ 100 objects each) while it is
    handled; with CPython's defaults the collector ran every 700 allocations and kept
    promoting and re-scanning them: ≈ a third of ingestion's decoding time, measured.
    Everything alive at start-up (modules, schemas, clients) is frozen out of the scans.
    """
    gc.freeze()
    gc.set_threshold(_GC_YOUNG_THRESHOLD, 50, 100)


def configure_logging(level: str = "WARNING") -> None:
    """JSON logs on stderr; by default only warnings and errors (one line per failed event)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every rebalance and retriable hiccup at INFO/WARNING; keep errors only.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)


@dataclass
class ServiceShell:
    """Runs a service's workers behind its HTTP surface until told to stop."""

    metrics: ServiceMetrics
    host: str
    port: int
    routes: Sequence[web.RouteDef] = ()
    ready_checks: Sequence[ReadyCheck] = ()
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    #: aiohttp middlewares around every route (e.g. storage's client address behind proxies).
    middlewares: Sequence[Middleware] = ()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=list(self.middlewares))
        app.add_routes(
            [
                web.get("/metrics", self._metrics),
                web.get("/healthz", self._healthz),
                web.get("/readyz", self._readyz),
                *self.routes,
            ]
        )
        return app

    async def _metrics(self, request: web.Request) -> web.Response:
        body = generate_latest(self.metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "service": self.metrics.service})

    async def _readyz(self, request: web.Request) -> web.Response:
        results = [await check() for check in self.ready_checks]
        ready = all(results) and not self.stop.is_set()
        return web.json_response(
            {"ready": ready, "service": self.metrics.service}, status=200 if ready else 503
        )

    async def serve(self, workers: Sequence[Worker]) -> None:
        """Serve HTTP and run the workers; return once all have stopped."""
        _tune_garbage_collector()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.stop.set)
        runner = web.AppRunner(self.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        tasks: list[asyncio.Task[None]] = [asyncio.create_task(w(self.stop)) for w in workers]
        try:
            await asyncio.wait(
                [*tasks, asyncio.create_task(self.stop.wait())],
                return_when=asyncio.FIRST_COMPLETED,
            )
            # A worker that ended on its own (a fatal error) stops the others too.
            self.stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:
                failure = None if task.cancelled() else task.exception()
                if failure is not None:
                    raise failure
        finally:
            await runner.cleanup()


class _ServiceSettings(Protocol):
    @property
    def log_level(self) -> str: ...


_S = TypeVar("_S", bound=_ServiceSettings)


def run_service(
    argv: Sequence[str] | None,
    *,
    prog: str,
    description: str,
    load: Callable[[], _S],
    serve: Callable[[_S], Coroutine[Any, Any, None]],
    fatal: tuple[type[BaseException], ...] = (OSError,),
    log: logging.Logger,
) -> int:
    """A service's ``main``: ``--help``, settings, logging, the event loop, exit codes.

    0 after a clean stop, 1 when ``serve`` raised one of ``fatal`` (logged in one line),
    2 when ``load`` raised :class:`~services.messaging.settings.SettingsError`, or ``serve``
    did while starting (a configured file that cannot be read, e.g. the signer registry).
    """
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.parse_args(list(argv) if argv is not None else None)
    try:
        settings = load()
    except SettingsError as exc:
        configure_logging()
        log.error("bad configuration: %s", exc)
        return 2
    configure_logging(settings.log_level)
    try:
        asyncio.run(serve(settings))
    except SettingsError as exc:
        log.error("bad configuration: %s", exc)
        return 2
    except fatal as exc:
        log.error("%s stopped: %s: %s", prog, type(exc).__name__, exc)
        return 1
    return 0
