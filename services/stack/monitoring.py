"""The local Prometheus (giám sát) of ``hocba stack up --with-monitoring``.

Debian's ``prometheus`` package (``/usr/bin/prometheus``, 2.42) runs on 127.0.0.1:9090 and
scrapes every service's ``/metrics`` every 5 s with ``deploy/prometheus/prometheus-local.yml``
(one job per service, named after it: ``job="ingestion"``, …), whose ``rule_files`` load the
alerting rules next to it (``alerts.yml``) when that file exists. The Grafana dashboards of
``deploy/grafana/dashboards`` read this Prometheus.

Layout under ``<state>/prometheus``: ``data/`` (the TSDB, kept 3 days), ``prometheus.log``,
``prometheus.pid`` and, only when a service runs on another port than ``hocba run``'s default
(``HOCBA_*_PORT``), ``prometheus.yml``: the committed file rendered again with those ports.

Environment variables (all optional): ``HOCBA_PROMETHEUS_PORT`` (default 9090), the services'
``HOCBA_HTTP_HOST`` and ``HOCBA_*_PORT`` (the scrape targets).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from services.stack.errors import ConfigError, PortBusyError, StackError, StartTimeoutError
from services.stack.ports import port_accepts
from services.stack.processes import (
    is_ours,
    launch_detached,
    read_pid,
    remove_pid_file,
    stop_process,
)
from services.stack.settings import REPO_ROOT, StackSettings

__all__ = [
    "DEFAULT_PROMETHEUS_PORT",
    "SCRAPE_INTERVAL",
    "SCRAPE_JOBS",
    "MonitoringSettings",
    "PrometheusMissingError",
    "PrometheusStatus",
    "check_port",
    "find_prometheus",
    "prometheus_pid",
    "prometheus_status",
    "render_config",
    "start_prometheus",
    "stop_prometheus",
    "targets_health",
    "up_prometheus",
    "wait_for_prometheus",
]

DEFAULT_PROMETHEUS_PORT = 9090
SCRAPE_INTERVAL = "5s"
#: Scrape job (the service's name) → the variable of its HTTP port and that port's default,
#: as ``hocba run`` starts it (pinned to ``services.cli.supervisor.SERVICES`` by a unit test).
SCRAPE_JOBS: Mapping[str, tuple[str, int]] = {
    "ingestion": ("HOCBA_INGESTION_PORT", 8081),
    "validation": ("HOCBA_VALIDATION_PORT", 8082),
    "signing": ("HOCBA_SIGNING_PORT", 8083),
    "storage": ("HOCBA_STORAGE_PORT", 8084),
    "national-sync": ("HOCBA_SYNC_PORT", 8085),
    "national-sim": ("HOCBA_NATIONAL_SIM_PORT", 8090),
}
_RETENTION = "3d"
_START_TIMEOUT_S = 30.0
_STOP_TIMEOUT_S = 30.0
_LOG_ROTATE_BYTES = 20 * 1024 * 1024
_START_BANNER = "===== hocba stack up: starting Prometheus"
_CONFIG_HEADER = """\
# The local Prometheus of `hocba stack up --with-monitoring` (services/stack/monitoring.py).
# Every service's /metrics every {interval}; the job is the service's name. The alerting
# rules of deploy/prometheus/alerts.yml load when that file exists. Written by
# monitoring.render_config (tests/unit/test_dashboards.py keeps the committed file equal to
# it); with other ports (HOCBA_*_PORT) it is rendered into <state>/prometheus/prometheus.yml.
"""


class PrometheusMissingError(StackError):
    """``--with-monitoring`` was asked for and no ``prometheus`` binary is installed."""


def _default_targets(host: str = "127.0.0.1") -> dict[str, str]:
    return {job: f"{host}:{port}" for job, (_variable, port) in SCRAPE_JOBS.items()}


@dataclass(frozen=True, slots=True)
class MonitoringSettings:
    """Where the local Prometheus runs, what it scrapes, where it keeps its files."""

    state_dir: Path
    port: int = DEFAULT_PROMETHEUS_PORT
    host: str = "127.0.0.1"
    #: job → ``host:port`` of the service's ``/metrics``.
    targets: Mapping[str, str] = field(default_factory=_default_targets)
    scrape_interval: str = SCRAPE_INTERVAL
    repo_root: Path = REPO_ROOT

    @classmethod
    def from_env(
        cls, stack: StackSettings, environ: Mapping[str, str] | None = None
    ) -> MonitoringSettings:
        """The stack's state dir, ``HOCBA_PROMETHEUS_PORT`` and the services' ports."""
        env = os.environ if environ is None else environ
        service_host = env.get("HOCBA_HTTP_HOST", "").strip() or "127.0.0.1"
        if service_host in ("0.0.0.0", "::"):
            service_host = "127.0.0.1"  # bound everywhere: scrape it on loopback
        targets = {
            job: f"{service_host}:{_port(env, variable, default)}"
            for job, (variable, default) in SCRAPE_JOBS.items()
        }
        return cls(
            state_dir=stack.state_dir,
            port=_port(env, "HOCBA_PROMETHEUS_PORT", DEFAULT_PROMETHEUS_PORT),
            targets=targets,
            repo_root=stack.repo_root,
        )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def directory(self) -> Path:
        return self.state_dir / "prometheus"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_file(self) -> Path:
        return self.directory / "prometheus.log"

    @property
    def pid_file(self) -> Path:
        return self.directory / "prometheus.pid"

    @property
    def committed_config(self) -> Path:
        """``deploy/prometheus/prometheus-local.yml``: the services at their default ports."""
        return self.repo_root / "deploy" / "prometheus" / "prometheus-local.yml"

    @property
    def rules_file(self) -> Path:
        return self.committed_config.with_name("alerts.yml")

    @property
    def config_file(self) -> Path:
        """The committed file, or a copy rendered with other ports into the state dir."""
        if self._default_ports():
            return self.committed_config
        return self.directory / "prometheus.yml"

    def _default_ports(self) -> bool:
        return dict(self.targets) == _default_targets() and (
            self.scrape_interval == SCRAPE_INTERVAL
        )

    def rendered_config(self) -> str:
        """The text of :attr:`config_file` when it is not the committed file."""
        return render_config(self.targets, [str(self.rules_file)], self.scrape_interval)


def _port(env: Mapping[str, str], variable: str, default: int) -> int:
    text = env.get(variable, "").strip()
    if not text:
        return default
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ConfigError(f"{variable}={text!r} is not a TCP port (1-65535)")
    return int(text)


def render_config(
    targets: Mapping[str, str],
    rule_files: Sequence[str] = ("alerts.yml",),
    scrape_interval: str = SCRAPE_INTERVAL,
) -> str:
    """The Prometheus configuration (YAML) scraping ``targets`` (job → ``host:port``)."""
    lines = [
        _CONFIG_HEADER.format(interval=scrape_interval).rstrip("\n"),
        "global:",
        f"  scrape_interval: {scrape_interval}",
        f"  evaluation_interval: {scrape_interval}",
        "rule_files:",
        *(f"  - {json.dumps(path)}" for path in rule_files),
        "scrape_configs:",
    ]
    for job, target in targets.items():
        lines += [
            f"  - job_name: {json.dumps(job)}",
            "    metrics_path: /metrics",
            "    static_configs:",
            f"      - targets: [{json.dumps(target)}]",
        ]
    return "\n".join(lines) + "\n"


def find_prometheus() -> str:
    """The ``prometheus`` binary; raise :class:`PrometheusMissingError` naming the package."""
    found = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if os.access("/usr/bin/prometheus", os.X_OK) else None
    )
    if found is None:
        raise PrometheusMissingError(
            "prometheus is not installed (needed by --with-monitoring): install Debian's "
            "package as root (apt-get install --no-install-recommends prometheus) or run "
            "`hocba stack up` without --with-monitoring"
        )
    return found


def _marker(settings: MonitoringSettings) -> str:
    # The TSDB path is on Prometheus' command line and unique to this state dir.
    return f"--storage.tsdb.path={settings.data_dir}"


def prometheus_pid(settings: MonitoringSettings) -> int | None:
    """Pid of the Prometheus this project started, if it is still running."""
    pid = read_pid(settings.pid_file)
    return pid if is_ours(pid, _marker(settings)) else None


def check_port(settings: MonitoringSettings) -> None:
    """Raise :class:`PortBusyError` when a program hocba did not start holds the port."""
    if prometheus_pid(settings) is None and port_accepts(settings.host, settings.port):
        raise PortBusyError(
            f"port {settings.port} is already in use by a program hocba did not start (Debian's "
            "prometheus service? `systemctl disable --now prometheus`); stop it (see `ss -ltnp`) "
            "or set HOCBA_PROMETHEUS_PORT to a free port"
        )


def start_prometheus(settings: MonitoringSettings, binary: str) -> subprocess.Popen[bytes]:
    """Launch Prometheus detached from this process; its pid goes to ``prometheus.pid``."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    config = settings.config_file
    if config != settings.committed_config:
        config.write_text(settings.rendered_config(), encoding="utf-8")
    elif not config.is_file():
        raise StackError(f"no Prometheus configuration at {config}: restore it from git")
    if settings.log_file.is_file() and settings.log_file.stat().st_size > _LOG_ROTATE_BYTES:
        settings.log_file.replace(settings.log_file.with_name(settings.log_file.name + ".1"))
    command = [
        binary,
        f"--config.file={config}",
        _marker(settings),
        f"--storage.tsdb.retention.time={_RETENTION}",
        f"--web.listen-address={settings.address}",
        # POST /-/reload picks up an edited alerts.yml without a restart.
        "--web.enable-lifecycle",
    ]
    return launch_detached(
        command,
        log_file=settings.log_file,
        cwd=settings.directory,
        pid_file=settings.pid_file,
        banner=_START_BANNER,
    )


def _get_json(url: str, timeout: float) -> object:
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())


def _ready(settings: MonitoringSettings, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{settings.url}/-/ready", timeout=timeout) as answer:
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _last_error(log_file: Path) -> str:
    try:
        text = log_file.read_text(encoding="utf-8", errors="replace")[-100_000:]
    except FileNotFoundError:
        return ""
    latest = text.rpartition(_START_BANNER)[2]
    errors = [line for line in latest.splitlines() if re.search(r"level=(error|fatal)", line)]
    return f" (last error: {errors[-1].strip()[:300]})" if errors else ""


async def wait_for_prometheus(
    settings: MonitoringSettings,
    process: subprocess.Popen[bytes] | None,
    console: Console,
    timeout: float = _START_TIMEOUT_S,
) -> None:
    """Wait until ``/-/ready`` answers; raise :class:`StartTimeoutError` naming the log."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    with console.status(f"Waiting for Prometheus on {settings.address}…"):
        while loop.time() < deadline:
            if process is not None and process.poll() is not None:
                raise StartTimeoutError(
                    f"Prometheus exited while starting (code {process.returncode})"
                    f"{_last_error(settings.log_file)}; see {settings.log_file}"
                )
            if await asyncio.to_thread(_ready, settings):
                return
            await asyncio.sleep(0.3)
    raise StartTimeoutError(
        f"Prometheus did not answer on {settings.address} within {timeout:.0f} s"
        f"{_last_error(settings.log_file)}; see {settings.log_file}"
    )


async def up_prometheus(settings: MonitoringSettings, console: Console) -> None:
    """Start Prometheus unless ours already runs, and wait until it is ready."""
    pid = prometheus_pid(settings)
    if pid is not None:
        console.print(f"prometheus: already running (pid {pid}) on {settings.url}")
        return
    binary = find_prometheus()
    check_port(settings)
    remove_pid_file(settings.pid_file)
    process = start_prometheus(settings, binary)
    console.print(f"prometheus: starting (pid {process.pid}), log {settings.log_file}")
    await wait_for_prometheus(settings, process, console)
    rules = "loaded" if settings.rules_file.is_file() else "absent"
    console.print(
        f"prometheus: ready on {settings.url}, scraping {len(settings.targets)} services every "
        f"{settings.scrape_interval} (config {settings.config_file}; {settings.rules_file.name} "
        f"{rules})"
    )


def stop_prometheus(settings: MonitoringSettings, console: Console | None = None) -> bool:
    """Stop the Prometheus ``up`` started; True when one was running."""
    pid = prometheus_pid(settings)
    if pid is None:
        if settings.pid_file.exists() and console is not None:
            console.print("prometheus: not running")
        remove_pid_file(settings.pid_file)
        return False
    killed = stop_process(pid, sig=signal.SIGTERM, timeout=_STOP_TIMEOUT_S)
    remove_pid_file(settings.pid_file)
    if console is not None:
        console.print(f"prometheus: stopped{' (killed after timeout)' if killed else ''}")
    return True


def targets_health(settings: MonitoringSettings, timeout: float = 3.0) -> dict[str, str]:
    """Scrape job → health (``up``, ``down``, ``unknown``) from ``/api/v1/targets``."""
    answer = _get_json(f"{settings.url}/api/v1/targets?state=active", timeout)
    health: dict[str, str] = {}
    if isinstance(answer, dict):
        for target in answer.get("data", {}).get("activeTargets", []):
            job = str(target.get("labels", {}).get("job", ""))
            # One target per job here; a job is up when any of its targets is.
            if health.get(job) != "up":
                health[job] = str(target.get("health", "unknown"))
    return health


@dataclass(frozen=True, slots=True)
class PrometheusStatus:
    """What ``hocba stack status`` shows of Prometheus."""

    address: str
    healthy: bool
    pid: int | None
    detail: str
    log_file: str


def _status(settings: MonitoringSettings) -> PrometheusStatus:
    pid = prometheus_pid(settings)
    healthy, detail = False, "not running (`hocba stack up --with-monitoring` starts it)"
    if pid is not None:
        detail = "not answering"
        if _ready(settings):
            healthy = True
            try:
                health = targets_health(settings)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                detail = f"ready; targets unknown ({type(exc).__name__})"
            else:
                up = sum(1 for job in settings.targets if health.get(job) == "up")
                detail = f"{up}/{len(settings.targets)} services answer its scrapes"
    return PrometheusStatus(settings.address, healthy, pid, detail, str(settings.log_file))


async def prometheus_status(settings: MonitoringSettings) -> PrometheusStatus | None:
    """Its status when ``up --with-monitoring`` started it (``down`` not run since), else None."""
    if not settings.pid_file.exists():
        return None
    return await asyncio.to_thread(_status, settings)
