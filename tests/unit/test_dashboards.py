"""The Grafana dashboards and the local Prometheus configuration, checked without a server.

Every dashboard loads, has unique panel ids, reads the provisioned datasource (uid
``prometheus``), and every PromQL expression parses (``promtool check rules`` on the
expressions written as recording rules: promtool 2.42 cannot check a bare expression) and
names only metrics the services export (their ``Counter``/``Gauge``/``Histogram`` calls in
``services/``, with the series each type adds: ``_total``, ``_bucket``, ``_sum``, ``_count``).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.cli import build_parser
from services.cli.supervisor import SERVICES
from services.stack import monitoring
from services.stack.errors import ConfigError, PortBusyError
from services.stack.lifecycle import COMPONENTS, log_file
from services.stack.monitoring import MonitoringSettings, render_config
from services.stack.settings import StackSettings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"
DATASOURCE_UID = "prometheus"
#: Grafana's own variables and the dashboards' template variables, as a query runs them.
GRAFANA_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "1h",
    "vendor": ".*",
}
_METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary"}
_LABEL_LIST_RE = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_NAME_RE = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])")
_PROMQL_KEYWORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right"}
    | {"offset", "bool", "inf", "nan", "atan2"}
)
_VARIABLE_RE = re.compile(r"\$\{?(\w+)\}?")


@dataclass(frozen=True)
class Query:
    """One PromQL expression of a dashboard, as Prometheus receives it."""

    dashboard: str
    panel_id: int
    panel: str
    ref: str
    expr: str

    def __str__(self) -> str:
        return f"{self.dashboard} #{self.panel_id} {self.panel!r} {self.ref}: {self.expr}"


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside (collapsed) rows included."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def substitute(expr: str, variables: dict[str, str] = GRAFANA_VARIABLES) -> str:
    """Replace Grafana's variables as a query runs; an unknown one raises KeyError."""
    return _VARIABLE_RE.sub(lambda match: variables[match.group(1)], expr)


def dashboard_queries(variables: dict[str, str] = GRAFANA_VARIABLES) -> list[Query]:
    """Every panel target's expression, variables substituted."""
    queries = []
    for path in dashboard_files():
        dashboard = load(path)
        for panel in all_panels(dashboard):
            for target in panel.get("targets", []):
                queries.append(
                    Query(
                        path.stem,
                        panel["id"],
                        panel["title"],
                        target["refId"],
                        substitute(target["expr"], variables),
                    )
                )
    return queries


def metric_names(expr: str) -> set[str]:
    """The metric names a (valid) PromQL expression selects.

    Strings, label matchers, ranges and label lists are removed; what remains that is an
    identifier not called as a function and not a keyword is a metric name.
    """
    text = _STRING_RE.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _LABEL_LIST_RE.sub(" ", text)
    names = set()
    for match in _NAME_RE.finditer(text):
        name = match.group(1)
        if text[match.end() :].lstrip().startswith("(") or name in _PROMQL_KEYWORDS:
            continue
        names.add(name)
    return names


def defined_metrics() -> dict[str, str]:
    """Metric family → type (Counter, Gauge, Histogram, Summary) created anywhere in services/."""
    found: dict[str, str] = {}
    for path in sorted((REPO / "services").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            kind = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            first = node.args[0]
            if (
                kind in _METRIC_TYPES
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and first.value.startswith("hocba_")
            ):
                found[first.value] = str(kind)
    return found


def exported_series() -> dict[str, str]:
    """Series name as scraped → the family's type, with the suffixes prometheus_client adds."""
    series: dict[str, str] = {}
    for name, kind in defined_metrics().items():
        if kind == "Counter":
            base = name.removesuffix("_total")
            series |= {f"{base}_total": kind, f"{base}_created": "Gauge"}
        elif kind == "Gauge":
            series[name] = kind
        elif kind == "Histogram":
            series |= {f"{name}_{s}": kind for s in ("bucket", "sum", "count")}
            series[f"{name}_created"] = "Gauge"
        else:  # Summary
            series |= {name: kind, f"{name}_sum": kind, f"{name}_count": kind}
            series[f"{name}_created"] = "Gauge"
    return series


# --- the dashboards -----------------------------------------------------------------------


def test_there_are_the_five_dashboards() -> None:
    assert {path.stem for path in dashboard_files()} == {
        "pipeline-overview",
        "vendors",
        "signing",
        "national-sync",
        "records-use",
    }


@pytest.mark.parametrize("path", dashboard_files(), ids=lambda path: path.stem)
def test_dashboard_is_provisionable(path: Path) -> None:
    dashboard = load(path)
    assert dashboard["schemaVersion"] == 39
    assert dashboard["id"] is None, "provisioned dashboards carry no database id"
    assert re.fullmatch(r"hocba-[a-z-]+", dashboard["uid"])
    assert dashboard["title"].startswith("hocba · ")
    assert "hocba" in dashboard["tags"]
    panels = list(all_panels(dashboard))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids in {path.name}"
    for panel in panels:
        position = panel["gridPos"]
        assert 0 <= position["x"] <= 24 - position["w"], panel["title"]
        assert panel["title"].strip()
        if panel["type"] == "row":
            continue
        assert panel["description"].strip(), f"{panel['title']}: no description"
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        assert panel["targets"], f"{panel['title']}: no query"
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", {"uid": DATASOURCE_UID})["uid"] == DATASOURCE_UID
            assert target["expr"].strip()
    for variable in dashboard["templating"]["list"]:
        assert variable["datasource"]["uid"] == DATASOURCE_UID
        assert variable["name"] in GRAFANA_VARIABLES, "add it to GRAFANA_VARIABLES"


def test_dashboard_uids_and_titles_are_unique() -> None:
    dashboards = [load(path) for path in dashboard_files()]
    assert len({d["uid"] for d in dashboards}) == len(dashboards)
    assert len({d["title"] for d in dashboards}) == len(dashboards)


def test_titles_name_the_vietnamese_term() -> None:
    # English titles, the Vietnamese term in parentheses where one exists (house style).
    for path in dashboard_files():
        assert re.search(r"\(.*[^\x00-\x7f].*\)$", load(path)["title"]), path.name


def test_datasource_is_provisioned_with_the_uid_the_dashboards_use() -> None:
    text = (PROVISIONING / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    assert re.search(rf"^\s+uid:\s*{DATASOURCE_UID}\s*$", text, re.MULTILINE)
    assert re.search(r"^\s+type:\s*prometheus\s*$", text, re.MULTILINE)
    provider = (PROVISIONING / "dashboards" / "hocba.yml").read_text(encoding="utf-8")
    assert re.search(r"^\s+type:\s*file\s*$", provider, re.MULTILINE)
    assert re.search(r"^\s+path:\s*\S+", provider, re.MULTILINE)


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (deploy/bootstrap.sh)"
    return found


def test_every_expression_parses(tmp_path: Path) -> None:
    queries = dashboard_queries()
    assert len(queries) > 40
    rules = {
        "groups": [
            {
                "name": "dashboards",
                "rules": [
                    {"record": f"hocba_dashboard_query_{index}", "expr": query.expr}
                    for index, query in enumerate(queries)
                ],
            }
        ]
    }
    # JSON is YAML: promtool reads it as a rules file and parses every expression.
    rules_file = tmp_path / "dashboards.rules.yml"
    rules_file.write_text(json.dumps(rules, indent=1), encoding="utf-8")
    result = subprocess.run(
        [_promtool(), "check", "rules", str(rules_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    failed = [int(n) for n in re.findall(r"rule (\d+), ", result.stdout + result.stderr)]
    culprits = "\n".join(str(queries[n - 1]) for n in failed)
    assert result.returncode == 0, f"{result.stdout}{result.stderr}\nin:\n{culprits}"
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_metric_names_are_found_in_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (service, le) (rate(a_bucket{x="b c",y=~"$v"}[5m]))) '
        "/ on(service) group_left sum without (le) (b_total offset 5m) or vector(0) * 1e3 "
        "+ time() - max(c:recorded)"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c:recorded"}


def test_services_define_the_metrics_the_dashboards_are_checked_against() -> None:
    defined = defined_metrics()
    # A sample from each place metrics are created: an empty scan would pass everything.
    for name in (
        "hocba_messages_in_total",
        "hocba_ingestion_events_total",
        "hocba_signing_signature_seconds",
        "hocba_sync_breaker_state",
        "hocba_storage_versions_total",
        "hocba_national_sim_versions_held",
        "hocba_validation_records_total",
    ):
        assert name in defined
    assert defined["hocba_processing_seconds"] == "Histogram"


def test_every_expression_names_only_exported_metrics() -> None:
    exported = exported_series()
    unknown = {
        str(query): sorted(metric_names(query.expr) - exported.keys())
        for query in dashboard_queries()
        if metric_names(query.expr) - exported.keys()
    }
    assert not unknown
    for path in dashboard_files():
        for variable in load(path)["templating"]["list"]:
            metric = re.match(r"label_values\((\w+),", variable["query"]["query"])
            assert metric and metric.group(1) in exported, variable["name"]


def test_rates_are_taken_of_counters_and_quantiles_of_buckets() -> None:
    exported = exported_series()
    for query in dashboard_queries():
        for match in re.finditer(r"\b(?:rate|irate|increase)\(\s*([A-Za-z_:][\w:]*)", query.expr):
            name = match.group(1)
            counter_like = exported.get(name) == "Counter" or name.endswith(("_bucket", "_count"))
            assert counter_like and name.endswith(("_total", "_bucket", "_count", "_sum")), (
                f"rate of a gauge in {query}"
            )
        if "histogram_quantile" in query.expr:
            assert "_bucket" in query.expr and re.search(r"by \([^)]*\ble\b", query.expr), query


#: Metric families deliberately on no dashboard, with the reason.
NOT_ON_A_DASHBOARD: dict[str, str] = {}


def test_every_exported_family_is_on_a_dashboard() -> None:
    # A metric nobody can see is a dashboard gone stale: add a panel or say why not above.
    used = {name for query in dashboard_queries() for name in metric_names(query.expr)}
    missing = sorted(
        family
        for family in defined_metrics()
        if family not in NOT_ON_A_DASHBOARD
        and not any(
            name.removesuffix(suffix) == family.removesuffix("_total")
            for name in used
            for suffix in ("", "_total", "_bucket", "_sum", "_count")
        )
    )
    assert not missing


# --- the local Prometheus -----------------------------------------------------------------


def test_scrape_jobs_are_the_services_and_their_ports() -> None:
    assert {
        job: (service.port_variable, service.default_port) for job, service in SERVICES.items()
    } == dict(monitoring.SCRAPE_JOBS)


def test_committed_config_is_the_rendered_one() -> None:
    settings = MonitoringSettings(Path("/state"), repo_root=REPO)
    committed = settings.committed_config.read_text(encoding="utf-8")
    assert committed == render_config(settings.targets, ["alerts.yml"])
    assert settings.config_file == settings.committed_config
    for job, (_variable, port) in monitoring.SCRAPE_JOBS.items():
        assert f'job_name: "{job}"' in committed
        assert f'"127.0.0.1:{port}"' in committed
    assert "scrape_interval: 5s" in committed
    result = subprocess.run(
        [_promtool(), "check", "config", "--syntax-only", str(settings.committed_config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_other_ports_are_rendered_into_the_state_dir(tmp_path: Path) -> None:
    stack = StackSettings.from_env({"HOCBA_STATE_DIR": str(tmp_path)}, repo_root=REPO)
    settings = MonitoringSettings.from_env(
        stack, {"HOCBA_PROMETHEUS_PORT": "19090", "HOCBA_SIGNING_PORT": "18083"}
    )
    assert settings.address == "127.0.0.1:19090"
    assert settings.targets["signing"] == "127.0.0.1:18083"
    assert settings.config_file == tmp_path / "prometheus" / "prometheus.yml"
    text = settings.rendered_config()
    assert '"127.0.0.1:18083"' in text
    assert f"  - {json.dumps(str(REPO / 'deploy' / 'prometheus' / 'alerts.yml'))}" in text
    with pytest.raises(ConfigError, match="HOCBA_PROMETHEUS_PORT"):
        MonitoringSettings.from_env(stack, {"HOCBA_PROMETHEUS_PORT": "http"})


def test_missing_prometheus_is_one_line_naming_the_package(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(monitoring.shutil, "which", lambda _name: None)
    monkeypatch.setattr(monitoring.os, "access", lambda _path, _mode: False)
    with pytest.raises(monitoring.PrometheusMissingError) as error:
        monitoring.find_prometheus()
    assert "apt-get install" in str(error.value) and "prometheus" in str(error.value)
    assert "\n" not in str(error.value)


def test_a_foreign_program_on_the_port_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(monitoring, "port_accepts", lambda _host, _port: True)
    with pytest.raises(PortBusyError, match="HOCBA_PROMETHEUS_PORT"):
        monitoring.check_port(MonitoringSettings(tmp_path))


def test_stop_without_a_running_prometheus_is_quiet(tmp_path: Path) -> None:
    settings = MonitoringSettings(tmp_path)
    assert monitoring.stop_prometheus(settings) is False
    settings.directory.mkdir()
    settings.pid_file.write_text("999999999\n")  # not a running pid
    assert monitoring.stop_prometheus(settings) is False
    assert not settings.pid_file.exists()


def test_cli_and_lifecycle_know_prometheus(tmp_path: Path) -> None:
    args = build_parser().parse_args(["stack", "up", "--with-monitoring"])
    assert args.with_monitoring is True
    assert build_parser().parse_args(["stack", "up"]).with_monitoring is False
    assert "prometheus" in COMPONENTS
    settings = StackSettings.from_env({"HOCBA_STATE_DIR": str(tmp_path)}, repo_root=tmp_path)
    assert log_file(settings, "prometheus") == tmp_path / "prometheus" / "prometheus.log"
