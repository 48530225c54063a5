"""The alerting rules (deploy/prometheus/alerts.yml) and the metrics table (docs/metrics.md).

promtool (Debian's ``prometheus`` package) checks the rules and runs their unit tests
(``alerts_test.yml``); then the rules, their tests, the table and the code must agree: every
metric a rule reads or a runbook names is in the table, with the labels the rule matches on;
the table's "Alerts" column names exactly the rules that read each metric; every rule is
tested firing and quiet; and the table's names, types and labels are the ones the services
create (read from their source). Which service exposes what is checked against the running
services by tests/integration/test_metrics_contract.py.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "alerts_test.yml"
METRICS_DOC = REPO / "docs" / "metrics.md"

#: Every service (``hocba run <name>``); "every service" in the table means all of them.
SERVICES = frozenset(
    {"ingestion", "validation", "signing", "storage", "national-sync", "national-sim"}
)
#: Labels Prometheus adds to every scraped series, and a histogram's bucket bound.
_SCRAPE_LABELS = frozenset({"job", "instance"})
_TYPES = {"Counter": "counter", "Gauge": "gauge", "Histogram": "histogram", "Summary": "summary"}
_SEVERITIES = frozenset({"critical", "warning"})

_ROW_RE = re.compile(r"^\|\s*`(hocba_[a-z0-9_]+)`\s*\|")
_TICKED_RE = re.compile(r"`([^`]+)`")
_ALERT_NAME_RE = re.compile(r"\bHocba[A-Z][A-Za-z]+\b")
_METRIC_TOKEN_RE = re.compile(r"\bhocba_[a-z0-9_]+\b")
_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_SELECTOR_RE = re.compile(r"\b([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}")
_MATCHER_RE = re.compile(r"([a-zA-Z_]\w*)\s*(?:=~|!~|!=|=)")
_GROUPING_RE = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
_PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
     "bool", "offset", "inf", "nan", "Inf", "NaN"}
)  # fmt: skip


# --- the table of docs/metrics.md ---------------------------------------------------------


@dataclass(frozen=True)
class DocumentedMetric:
    """One row of the table in docs/metrics.md."""

    name: str
    type: str
    labels: frozenset[str]
    services: frozenset[str]
    alerts: frozenset[str]


def _doc_lines() -> list[str]:
    return METRICS_DOC.read_text(encoding="utf-8").splitlines()


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


@cache
def documented_metrics() -> dict[str, DocumentedMetric]:
    """The rows of the metrics table, by metric name (columns as the header names them)."""
    lines = _doc_lines()
    header = next(i for i, line in enumerate(lines) if line.startswith("| Metric |"))
    columns = [c.lower() for c in _cells(lines[header])]
    assert columns == ["metric", "type", "labels", "services", "meaning", "alerts"], columns
    rows: dict[str, DocumentedMetric] = {}
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        match = _ROW_RE.match(line)
        assert match, f"docs/metrics.md: a row that does not start with a metric: {line}"
        cells = _cells(line)
        assert len(cells) == len(columns), f"docs/metrics.md: {len(cells)} cells in {line}"
        name = match.group(1)
        _, kind, labels, services, _meaning, alerts = cells
        assert name not in rows, f"docs/metrics.md lists {name} twice"
        rows[name] = DocumentedMetric(
            name=name,
            type=kind,
            labels=frozenset(_TICKED_RE.findall(labels)),
            services=SERVICES
            if services.lower() == "every service"
            else frozenset(_TICKED_RE.findall(services)),
            alerts=frozenset(_ALERT_NAME_RE.findall(alerts)),
        )
    return rows


# --- the rules ----------------------------------------------------------------------------


@cache
def alert_rules() -> dict[str, dict[str, Any]]:
    """Every alerting rule of alerts.yml by name."""
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rules: dict[str, dict[str, Any]] = {}
    for group in document["groups"]:
        for rule in group["rules"]:
            assert "alert" in rule, f"{RULES.name}: only alerting rules here: {rule}"
            assert rule["alert"] not in rules, f"{rule['alert']} is defined twice"
            rules[rule["alert"]] = rule
    return rules


def selected_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (identifiers not called, not keywords)."""
    text = _STRING_RE.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = _GROUPING_RE.sub(" ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])", text):
        name = match.group(1)
        if text[match.end() :].lstrip().startswith("(") or name in _PROMQL_WORDS:
            continue
        names.add(name)
    return names


def family(series: str) -> str:
    """The documented metric a series name belongs to (``x_bucket`` → ``x``)."""
    documented = documented_metrics()
    if series in documented:
        return series
    for suffix in _HISTOGRAM_SUFFIXES:
        base = series.removesuffix(suffix)
        row = documented.get(base)
        if base != series and row is not None and row.type == "histogram":
            return base
    return series


def rule_families(rule: dict[str, Any]) -> set[str]:
    return {family(name) for name in selected_metrics(rule["expr"])}


# --- promtool -----------------------------------------------------------------------------


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (deploy/bootstrap.sh does)"
    return found


def _run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_checks_the_rules() -> None:
    result = _run("check", "rules", str(RULES))
    assert result.returncode == 0, f"promtool check rules:\n{result.stdout}{result.stderr}"
    assert "SUCCESS" in result.stdout


def test_promtool_runs_the_rules_unit_tests() -> None:
    # alerts_test.yml names its rule file relative to itself.
    result = _run("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert result.returncode == 0, f"promtool test rules:\n{result.stdout}{result.stderr}"


# --- the rules and the table --------------------------------------------------------------


def test_every_metric_a_rule_reads_is_documented() -> None:
    documented = documented_metrics()
    doc_text = METRICS_DOC.read_text(encoding="utf-8")
    for name, rule in alert_rules().items():
        for metric in rule_families(rule):
            if metric.startswith("hocba_"):
                assert metric in documented, f"{name} reads {metric}, not in docs/metrics.md"
            else:  # Prometheus' own series (up): named in the text below the table
                assert f"`{metric}" in doc_text, f"{name} reads {metric}: say so in the docs"


def test_every_metric_an_annotation_names_is_documented() -> None:
    documented = documented_metrics()
    for name, rule in alert_rules().items():
        for key, text in rule["annotations"].items():
            for token in _METRIC_TOKEN_RE.findall(text):
                assert family(token) in documented, f"{name}'s {key} names {token}, undocumented"


def test_the_alerts_column_names_the_rules_that_read_each_metric() -> None:
    reads: dict[str, set[str]] = {}
    for name, rule in alert_rules().items():
        for metric in rule_families(rule):
            reads.setdefault(metric, set()).add(name)
    for metric, row in documented_metrics().items():
        assert row.alerts == reads.get(metric, set()), (
            f"docs/metrics.md: {metric} lists alerts {sorted(row.alerts)}, "
            f"the rules reading it are {sorted(reads.get(metric, set()))}"
        )


def test_rules_match_and_group_on_documented_labels() -> None:
    documented = documented_metrics()
    for name, rule in alert_rules().items():
        expr = rule["expr"]
        used = rule_families(rule)
        known = set(_SCRAPE_LABELS) | {"le"}
        for metric in used:
            known |= documented[metric].labels if metric in documented else set()
        for metric, matchers in _SELECTOR_RE.findall(_STRING_RE.sub('""', expr)):
            labels = set(_MATCHER_RE.findall(matchers))
            row = documented.get(family(metric))
            allowed = (row.labels if row else set()) | _SCRAPE_LABELS | {"le"}
            assert labels <= allowed, f"{name}: {metric} has no label {sorted(labels - allowed)}"
        for grouping in _GROUPING_RE.findall(expr):
            labels = {label.strip() for label in grouping.split(",") if label.strip()}
            assert labels <= known, f"{name} groups by unknown labels {sorted(labels - known)}"
        for label in re.findall(r"\$labels\.(\w+)", " ".join(rule["annotations"].values())):
            assert label in known, f"{name}'s annotations use $labels.{label}, which it lacks"


def test_every_rule_waits_has_a_severity_and_says_what_to_do() -> None:
    for name, rule in alert_rules().items():
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name}: no `for:`"
        assert rule["labels"]["severity"] in _SEVERITIES, f"{name}: severity"
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook"}, name
        assert all(text.strip() for text in annotations.values()), name
        assert "\n" not in annotations["runbook"], f"{name}: the runbook is one line"


def _rule_tests() -> Iterator[tuple[str, str, list[Any]]]:
    """(test name, alert name, expected alerts) for every alert_rule_test in alerts_test.yml."""
    document = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    assert document["rule_files"] == [RULES.name]
    for test in document["tests"]:
        for case in test.get("alert_rule_test", []):
            yield test["name"], case["alertname"], case.get("exp_alerts") or []


def test_every_rule_is_tested_firing_and_quiet() -> None:
    firing: dict[str, set[str]] = {}
    expectations: dict[tuple[str, str], bool] = {}
    for test, alert, expected in _rule_tests():
        assert alert in alert_rules(), f"{RULE_TESTS.name} tests an unknown alert {alert}"
        if expected:
            firing.setdefault(alert, set()).add(test)
        expectations[(test, alert)] = expectations.get((test, alert), False) or bool(expected)
    for alert in alert_rules():
        assert firing.get(alert), f"{alert}: no test case in which it fires"
        quiet = [
            test for (test, name), fired in expectations.items() if name == alert and not fired
        ]
        assert quiet, f"{alert}: no test in which it stays quiet throughout"


def test_the_docs_list_the_alerts_with_their_severity() -> None:
    lines = _doc_lines()
    header = lines.index("| Alert | Severity | Fires when |")
    listed: dict[str, str] = {}
    for line in lines[header + 2 :]:
        if not line.startswith("|"):
            break
        alert, severity, _when = _cells(line)
        listed[alert] = severity
    assert listed == {name: rule["labels"]["severity"] for name, rule in alert_rules().items()}


# --- the table and the code ---------------------------------------------------------------


def _string_list(node: ast.expr, names: dict[str, ast.expr]) -> list[str] | None:
    """A list/tuple of string literals, with ``*name`` resolved from ``names``."""
    if isinstance(node, ast.Name) and node.id in names:
        return _string_list(names[node.id], names)
    if not isinstance(node, ast.List | ast.Tuple):
        return None
    values: list[str] = []
    for element in node.elts:
        if isinstance(element, ast.Constant) and isinstance(element.value, str):
            values.append(element.value)
        elif isinstance(element, ast.Starred):
            inner = _string_list(element.value, names)
            if inner is None:
                return None
            values += inner
        else:
            return None
    return values


def _local_values(function: ast.AST) -> dict[str, ast.expr]:
    """Simple assignments in a function: ``x = [...]`` and ``a, x = ..., [...]``."""
    names: dict[str, ast.expr] = {}
    for node in ast.walk(function):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target, value = node.targets[0], node.value
        if isinstance(target, ast.Name):
            names[target.id] = value
        elif (
            isinstance(target, ast.Tuple)
            and isinstance(value, ast.Tuple)
            and len(target.elts) == len(value.elts)
        ):
            for element, assigned in zip(target.elts, value.elts, strict=True):
                if isinstance(element, ast.Name):
                    names[element.id] = assigned
    return names


def defined_metrics() -> dict[str, tuple[str, frozenset[str]]]:
    """Metric name → (type, label names) for every metric created in services/."""
    found: dict[str, tuple[str, frozenset[str]]] = {}
    for path in sorted((REPO / "services").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            names = _local_values(function)
            for node in ast.walk(function):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                kind = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                first = node.args[0]
                if not (
                    kind in _TYPES
                    and isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                    and first.value.startswith("hocba_")
                ):
                    continue
                label_node = next(
                    (k.value for k in node.keywords if k.arg == "labelnames"),
                    node.args[2] if len(node.args) > 2 else None,
                )
                labels = [] if label_node is None else _string_list(label_node, names)
                assert labels is not None, f"{path}: cannot read the labels of {first.value}"
                assert first.value not in found, f"{first.value} is created twice in services/"
                found[first.value] = (_TYPES[str(kind)], frozenset(labels))
    return found


def test_the_table_has_every_metric_the_code_creates_with_its_type_and_labels() -> None:
    defined = defined_metrics()
    documented = documented_metrics()
    assert sorted(documented) == sorted(defined), (
        f"missing from docs/metrics.md: {sorted(set(defined) - set(documented))}; "
        f"no longer in the code: {sorted(set(documented) - set(defined))}"
    )
    for name, (kind, labels) in defined.items():
        row = documented[name]
        assert row.type == kind, f"{name} is a {kind}, docs/metrics.md says {row.type}"
        assert row.labels == labels, f"{name} has labels {sorted(labels)}, docs: {row.labels}"
        assert row.services and row.services <= SERVICES, f"{name}: services {row.services}"
