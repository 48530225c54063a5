"""docker-compose.yml and the platform image (deploy/docker/): checked without a Docker engine.

Debian's ``docker-compose`` (1.29.2) must accept the file (``config -q``: schema,
interpolation, references); the tests skip that check only when the command is missing.
The rest reads the file with PyYAML: every platform service runs a module, ``hocba``
sub-command or script that exists, sets only ``HOCBA_*`` variables its code reads, and has a
healthcheck on its own ``/readyz``; every path mounted from the repository exists; the
replicas, secrets, signing material, Prometheus and Grafana are wired consistently. The
image's entrypoint and init script run here for real, outside a container.

Nothing here starts a container: no image is built and no service runs in Docker.
"""

from __future__ import annotations

import ast
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from services.cli import build_parser
from services.cli.supervisor import SERVICES
from services.stack.errors import DatabaseUnavailableError, MigrationError, TopicError
from services.stack.monitoring import SCRAPE_JOBS
from tests.ports import free_port

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKER = REPO / "deploy" / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
ENTRYPOINT = DOCKER / "entrypoint.sh"
INIT_SCRIPT = DOCKER / "init_platform.py"
PROMETHEUS_CONFIG = REPO / "deploy" / "prometheus" / "prometheus-compose.yml"
PLATFORM_IMAGE = "hocba/platform:local"
#: Where the Dockerfile puts the repository (its WORKDIR) and the compose file runs scripts.
IMAGE_ROOT = "/opt/hocba"
#: Services scaled by ``deploy.replicas`` (README: validation and signing scale by replicas).
REPLICATED = ("validation", "signing")
#: Variables of the platform services read by entrypoint.sh, not by the Python code.
ENTRYPOINT_VARIABLES = ("SECRET_ENV_DIRS", "DEV_PKI_SERVE_DIR")
_SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSPHRASE|TOKEN|_KEY|_PIN)$")


@cache
def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return loaded


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = _compose()["services"]
    return services


def _platform_services() -> dict[str, dict[str, Any]]:
    """The services that run the platform image (deploy/docker/Dockerfile)."""
    return {name: s for name, s in _services().items() if s.get("image") == PLATFORM_IMAGE}


def _is_one_shot(service: Mapping[str, Any]) -> bool:
    return service.get("restart") == "no"


def _environment(service: Mapping[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    assert isinstance(env, dict), "environment is written as a mapping"
    return {str(k): str(v) for k, v in env.items()}


def _module_of(command: list[str]) -> str | None:
    """``services.x`` for ``python -m services.x``."""
    if command[:2] == ["python", "-m"]:
        return command[2]
    return None


def _sources(paths: Iterable[Path]) -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in paths)


@cache
def _package_text(package: str) -> str:
    """All Python source of ``services/<package>`` (recursively)."""
    return _sources(sorted((REPO / "services" / package).rglob("*.py")))


def _load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_compose_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _script_path(command: list[str]) -> Path | None:
    """The repository file of ``python /opt/hocba/<path> ...``."""
    if len(command) >= 2 and command[0] == "python" and command[1].startswith(IMAGE_ROOT + "/"):
        return REPO / command[1].removeprefix(IMAGE_ROOT + "/")
    return None


def _imported_services_modules(script: Path) -> list[Path]:
    """The files of the ``services`` modules a script imports (its settings come from them)."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    files: list[Path] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("services"):
            base = REPO / Path(*node.module.split("."))
            files.extend(p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file())
    return files


def _bind_mounts(service: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each bind mount from the host (short syntax)."""
    mounts = []
    for volume in service.get("volumes", []):
        assert isinstance(volume, str), "volumes use the short syntax"
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts.append((source, target))
    return mounts


def _named_volumes(service: Mapping[str, Any]) -> dict[str, str]:
    """volume name → mount target."""
    named = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if not source.startswith((".", "/")):
            named[source] = target
    return named


# --- docker-compose itself ------------------------------------------------------------------


def test_docker_compose_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip(
            "docker-compose is not installed (Debian package docker-compose, which "
            "deploy/bootstrap.sh installs): the file's schema was not checked"
        )
    # A clean environment: the development defaults of the file must be enough.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(REPO)}
    for quiet in (["-q"], []):
        result = subprocess.run(
            [binary, "-f", str(COMPOSE_FILE), "config", *quiet],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        # Without -q it also warns of a ${VARIABLE} with no default ("... is not set").
        assert "is not set" not in result.stderr, result.stderr
        assert "WARNING" not in result.stderr, result.stderr


# --- what each service runs -----------------------------------------------------------------


def test_every_runnable_service_is_in_the_file_once() -> None:
    modules = [
        _module_of(s["command"]) for s in _platform_services().values() if not _is_one_shot(s)
    ]
    assert sorted(m for m in modules if m) == sorted(s.module for s in SERVICES.values())


def test_every_platform_command_exists() -> None:
    for name, service in _platform_services().items():
        command = service.get("command")
        assert isinstance(command, list), f"{name}: command is an exec list"
        module = _module_of(command)
        script = _script_path(command)
        if module is not None:
            assert module.startswith("services."), f"{name}: {module}"
            main = REPO / Path(*module.split(".")) / "__main__.py"
            assert main.is_file(), f"{name}: {module} has no __main__.py"
        elif command[0] == "hocba":
            try:
                build_parser().parse_args(command[1:])  # parses only; runs nothing
            except SystemExit:
                pytest.fail(f"{name}: `{' '.join(command)}` is not a hocba command line")
        elif script is not None:
            assert script.is_file(), f"{name}: {script} is not in the repository"
            if script == INIT_SCRIPT:
                try:
                    _load_script(INIT_SCRIPT).build_parser().parse_args(command[2:])
                except SystemExit:
                    pytest.fail(f"{name}: init_platform.py does not take {command[2:]}")
        else:
            pytest.fail(f"{name}: command {command} is not a module, sub-command or script")


def test_the_header_examples_are_real_command_lines() -> None:
    examples = re.findall(
        r"^#\s+docker-compose exec (\S+) (hocba [^#\n]*)", COMPOSE_FILE.read_text(), re.M
    )
    assert examples
    for service, line in examples:
        assert service in _platform_services(), service
        try:
            build_parser().parse_args(line.split()[1:])
        except SystemExit:
            pytest.fail(f"`{line.strip()}` is not a hocba command line")


def test_published_ports_are_on_loopback_only() -> None:
    for name, service in _services().items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is open to the network"


def test_every_hocba_variable_is_one_the_code_reads() -> None:
    shared = _package_text("messaging") + _package_text("core")
    entrypoint = ENTRYPOINT.read_text(encoding="utf-8")
    for name, service in _services().items():
        env = _environment(service)
        command = service.get("command", [])
        if service.get("image") != PLATFORM_IMAGE:
            # Other images: a HOCBA_ variable is for a file of the repository they mount.
            mounted = "".join(
                _sources(p for p in (REPO / src).rglob("*") if p.is_file())
                for src, _ in _bind_mounts(service)
            )
            readers = mounted
        elif (module := _module_of(command)) is not None:
            readers = _package_text(module.removeprefix("services.")) + shared
        else:
            script = _script_path(command)
            assert script is not None
            readers = _sources([script, *_imported_services_modules(script)])
        for variable in env:
            if variable.startswith("HOCBA_"):
                assert re.search(rf"\b{variable}\b", readers), (
                    f"{name} sets {variable}, which nothing it runs reads"
                )
            elif service.get("image") == PLATFORM_IMAGE:
                assert variable in ENTRYPOINT_VARIABLES, f"{name}: unexpected {variable}"
                assert variable in entrypoint


def test_no_secret_is_written_in_the_file() -> None:
    for name, service in _services().items():
        for variable, value in _environment(service).items():
            if _SECRET_NAME.search(variable):
                assert "${" in value, (
                    f"{name}: {variable} must come from the environment or a secret file"
                )
        env = _environment(service)
        # Never a value, not even an interpolated one: a file (entrypoint.sh) or a secret.
        assert "HOCBA_RECORD_ID_KEY" not in env, name
        dsn = env.get("HOCBA_PG_DSN")
        if dsn is not None:
            assert "${POSTGRES_PASSWORD" in dsn, f"{name}: the DSN's password is interpolated"


# --- health, ordering, scaling --------------------------------------------------------------


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in _services().items():
        if _is_one_shot(service):
            continue
        check = service.get("healthcheck")
        assert check and not check.get("disable"), f"{name} has no healthcheck"
        assert check.get("test"), f"{name}: healthcheck without a test"


def test_platform_healthchecks_ask_readyz_on_the_service_port() -> None:
    port_variables = {s.module: s.port_variable for s in SERVICES.values()}
    for name, service in _platform_services().items():
        if _is_one_shot(service):
            continue
        module = _module_of(service["command"])
        assert module is not None
        port = _environment(service)[port_variables[module]]
        assert service["healthcheck"]["test"][-1] == f"http://127.0.0.1:{port}/readyz", name
        assert _environment(service)["HOCBA_HTTP_HOST"] == "0.0.0.0", name


def test_one_shot_services_are_awaited_until_they_succeed() -> None:
    one_shots = {name for name, s in _services().items() if _is_one_shot(s)}
    assert one_shots == {"init-topics", "init-migrations", "init-dev-signing"}
    awaited: set[str] = set()
    for name, service in _services().items():
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            assert not one_shots & set(depends), f"{name} must wait for completion"
            continue
        for dependency, how in depends.items():
            assert dependency in _services(), f"{name} depends on unknown {dependency}"
            if dependency in one_shots:
                assert how == {"condition": "service_completed_successfully"}, name
                awaited.add(dependency)
    assert awaited == one_shots
    for name in one_shots:
        assert not _services()[name].get("ports"), name
    # Each init waits for the server it prepares to be healthy.
    assert _services()["init-topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    assert _services()["init-migrations"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"}
    }


def test_replicas_get_distinct_instance_ids() -> None:
    for name in REPLICATED:
        service = _services()[name]
        assert service["deploy"]["replicas"] >= 2, name
        # Replicas of one service cannot share a host port.
        assert not service.get("ports"), name
    for name, service in _platform_services().items():
        # entrypoint.sh sets it per container; a value here would be shared by replicas.
        assert "HOCBA_INSTANCE_ID" not in _environment(service), name


def test_kafka_is_the_local_stack_version_in_kraft_mode() -> None:
    pom = ElementTree.parse(REPO / "deploy" / "local" / "pom.xml")
    namespace = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = pom.findtext("m:properties/m:kafka.version", namespaces=namespace)
    kafka = _services()["kafka"]
    assert kafka["image"] == f"apache/kafka:{version}"
    env = _environment(kafka)
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "INTERNAL://kafka:9092" in env["KAFKA_ADVERTISED_LISTENERS"]
    for service in _platform_services().values():
        bootstrap = _environment(service).get("HOCBA_KAFKA_BOOTSTRAP")
        assert bootstrap in (None, "kafka:9092")
    assert _services()["postgres"]["image"].startswith("postgres:")


# --- files from the repository --------------------------------------------------------------


def test_every_mounted_path_exists() -> None:
    declared = set(_compose().get("volumes", {}))
    for name, service in _services().items():
        for source, _target in _bind_mounts(service):
            assert source.startswith("./"), f"{name}: {source} is outside the repository"
            assert (REPO / source).exists(), f"{name}: {source} does not exist"
        for volume in _named_volumes(service):
            assert volume in declared, f"{name}: volume {volume} is not declared"
        build = service.get("build")
        if build:
            assert (REPO / build["context"] / build["dockerfile"]).is_file(), name


def test_signing_reads_what_init_dev_signing_writes() -> None:
    init = _services()["init-dev-signing"]
    signing = _services()["signing"]
    volume, directory = next(iter(_named_volumes(init).items()))
    assert _named_volumes(signing)[volume] == directory
    assert init["command"][-1] == directory
    env = _environment(signing)
    assert env["HOCBA_SIGNERS_FILE"] == _environment(init)["HOCBA_SIGNERS_FILE"]
    assert env["HOCBA_SIGNERS_FILE"] == f"{directory}/pki/signers.json"
    assert env["DEV_PKI_SERVE_DIR"] == f"{directory}/pki"
    assert f"{directory}/env" in env["SECRET_ENV_DIRS"].split(":")
    # The dev PKI is built and served by certomancer: the image must have it.
    assert signing["build"]["args"]["DEV_PKI"] == "true"


def test_prometheus_scrapes_every_service_and_loads_the_alerts() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    jobs = {}
    for job in config["scrape_configs"]:
        (discovery,) = job["dns_sd_configs"]
        jobs[job["job_name"]] = (discovery["names"], discovery["port"])
    assert jobs == {job: ([job], port) for job, (_variable, port) in SCRAPE_JOBS.items()}
    assert config["rule_files"] == ["alerts.yml"]
    assert config["global"]["scrape_interval"] == "5s"

    prometheus = _services()["prometheus"]
    flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    in_container = Path(flag.removeprefix("--config.file="))
    mounts = dict(_bind_mounts(prometheus))
    source = next(s for s, t in mounts.items() if Path(t) == in_container.parent)
    assert (REPO / source / in_container.name).resolve() == PROMETHEUS_CONFIG
    # The rules file of rule_files, mounted beside it.
    assert (REPO / source / "alerts.yml").is_file()


def test_prometheus_config_passes_promtool() -> None:
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: apt-get install prometheus (deploy/bootstrap.sh)"
    result = subprocess.run(
        [promtool, "check", "config", "--syntax-only", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_mounts_its_provisioning_and_dashboards() -> None:
    mounts = {target: source for source, target in _bind_mounts(_services()["grafana"])}
    assert mounts["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"
    provider = yaml.safe_load(
        (REPO / "deploy/grafana/provisioning/dashboards/hocba.yml").read_text(encoding="utf-8")
    )
    path = provider["providers"][0]["options"]["path"]
    assert mounts[path] == "./deploy/grafana/dashboards"


# --- the image ------------------------------------------------------------------------------


def test_dockerfile_builds_the_platform_image() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim-bookworm\s*$", text, re.M)
    assert "fonts-dejavu-core" in text
    installs = re.findall(r"apt-get install[^&]*", text)
    assert installs and not [i for i in installs if "softhsm" in i]
    assert re.search(rf"^WORKDIR {IMAGE_ROOT}\s*$", text, re.M)
    assert "pip install --no-deps -e ." in text
    assert f'ENTRYPOINT ["/bin/sh", "{IMAGE_ROOT}/deploy/docker/entrypoint.sh"]' in text
    assert re.search(r"^USER 10001:10001\s*$", text, re.M), "k8s/ runs it as uid 10001"
    # The dev PKI's certomancer is the project's own pin (pyproject's dev extra).
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    pin = re.search(r'"(certomancer[^"]*)"', pyproject)
    assert pin is not None and f'"{pin.group(1)}"' in text
    for copied in ("pyproject.toml", "README.md"):
        assert (REPO / copied).is_file()


def test_build_context_holds_only_what_the_image_needs() -> None:
    # What docker-compose 1.29 sends to the engine: docker-py's reading of .dockerignore,
    # in the interpreter the docker-compose command runs with.
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose (and its docker-py) is not installed")
    interpreter = Path(binary).read_text(encoding="utf-8").splitlines()[0].removeprefix("#!")
    program = (
        "import json, sys\n"
        "from docker.utils.build import exclude_paths\n"
        "lines = open('.dockerignore').read().splitlines()\n"
        "patterns = [l.strip() for l in lines if l.strip() and not l.startswith('#')]\n"
        "json.dump(sorted(exclude_paths('.', patterns)), sys.stdout)\n"
    )
    result = subprocess.run(
        [*interpreter.split(), "-c", program],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    files = set(json.loads(result.stdout))
    for needed in (
        "pyproject.toml",
        "README.md",
        "services/signing/__main__.py",
        "schemas/VendorEvent.avsc",
        "docs/openapi/ingestion.json",
        "deploy/pki/dev-pki.yml",
        "deploy/docker/entrypoint.sh",
        "deploy/docker/init_platform.py",
        *(
            path.relative_to(REPO).as_posix()
            for path in (REPO / "services" / "storage" / "migrations").glob("*.sql")
        ),
    ):
        assert needed in files, needed
    tops = {path.split("/")[0] for path in files}
    assert tops <= {
        ".dockerignore",
        "pyproject.toml",
        "README.md",
        "services",
        "schemas",
        "docs",
        "deploy",
    }, tops
    assert not [p for p in files if "__pycache__" in p or p.endswith(".pyc")]


# --- entrypoint.sh and init_platform.py, run here ------------------------------------------


def _entrypoint(
    env: Mapping[str, str], *command: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run entrypoint.sh with POSIX sh (dash on Debian), ``python`` being this one."""
    full_env = {"PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}", **env}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        # Files, not pipes: a dev PKI server it started keeps its stderr a moment longer.
        process = subprocess.Popen(
            ["sh", str(ENTRYPOINT), *command],
            env=full_env,
            stdout=out,
            stderr=err,
            text=True,
            start_new_session=True,
        )
        try:
            code = process.wait(timeout=timeout)
        finally:
            # Outside a container nothing reaps what it started: end its process group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        out.seek(0)
        err.seek(0)
        return subprocess.CompletedProcess(process.args, code, out.read(), err.read())


_PRINT_ENV = "import json, os; print(json.dumps(dict(os.environ)))"


def test_entrypoint_turns_secret_files_into_variables(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "HOCBA_RECORD_ID_KEY").write_text("from-first-0123456789\n")
    (second / "HOCBA_RECORD_ID_KEY").write_text("from-second")
    (second / "HOCBA_NATIONAL_CLIENT_SECRET").write_text("s3cret")
    (second / "HOCBA_LOG_LEVEL").write_text("DEBUG")
    (second / "HOCBA_not-a-name").write_text("x")
    (second / "OTHER").write_text("x")
    env = {
        "SECRET_ENV_DIRS": f"{tmp_path / 'absent'}:{first}:{second}",
        "HOCBA_LOG_LEVEL": "WARNING",
    }
    result = _entrypoint(env, "python", "-c", _PRINT_ENV)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["HOCBA_RECORD_ID_KEY"] == "from-first-0123456789"  # first dir wins, no newline
    assert seen["HOCBA_NATIONAL_CLIENT_SECRET"] == "s3cret"
    assert seen["HOCBA_LOG_LEVEL"] == "WARNING"  # the environment wins over a file
    assert "OTHER" not in seen
    assert seen["HOCBA_INSTANCE_ID"] == socket.gethostname()


def test_entrypoint_keeps_a_given_instance_id() -> None:
    result = _entrypoint({"HOCBA_INSTANCE_ID": "7"}, "python", "-c", _PRINT_ENV)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["HOCBA_INSTANCE_ID"] == "7"


def test_entrypoint_refuses_to_start_without_its_dev_pki(tmp_path: Path) -> None:
    result = _entrypoint(
        {"DEV_PKI_SERVE_DIR": str(tmp_path / "no-pki")}, "python", "-c", "print('ran')"
    )
    assert result.returncode == 1
    assert "dev PKI server did not start" in result.stderr
    assert "ran" not in result.stdout


def _init_dev_signing(directory: Path, registry: str, port: int | None = None) -> int:
    """``init_platform.py dev-signing DIRECTORY``, in this process."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOCBA_SIGNERS_FILE", registry)
        if port is not None:
            patch.setenv("HOCBA_DEV_PKI_PORT", str(port))
        code: int = _load_script(INIT_SCRIPT).main(["dev-signing", str(directory)])
    return code


@pytest.fixture(scope="module")
def dev_signing_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What init-dev-signing leaves in its volume (the PKI on a free loopback port)."""
    directory = tmp_path_factory.mktemp("compose") / "dev-signing"
    registry = str(directory / "pki" / "signers.json")
    assert _init_dev_signing(directory, registry, port=free_port()) == 0
    return directory


def test_dev_signing_material_serves_the_signing_settings(dev_signing_dir: Path) -> None:
    registry = dev_signing_dir / "pki" / "signers.json"
    key_file = dev_signing_dir / "env" / "HOCBA_RECORD_ID_KEY"
    key = key_file.read_text()
    assert key_file.stat().st_mode & 0o077 == 0

    # As a signing replica: secrets from env/, the PKI served on loopback, settings load.
    probe = (
        "import json, urllib.request\n"
        "from services.signing.registry import load_registry\n"
        "from services.signing.settings import SigningSettings\n"
        "settings = SigningSettings.from_env()\n"
        "registry = load_registry(settings.signers_file)\n"
        "base = registry.tsa_url.rsplit('/tsa/', 1)[0]\n"
        "with urllib.request.urlopen(base + '/crls/interm/latest.crl', timeout=5) as answer:\n"
        "    crl = answer.status\n"
        "print(json.dumps({'key': settings.record_id_key.decode(), 'crl': crl,\n"
        "                  'signers': sorted(registry.entries)}))\n"
    )
    result = _entrypoint(
        {
            "SECRET_ENV_DIRS": str(dev_signing_dir / "env"),
            "DEV_PKI_SERVE_DIR": str(dev_signing_dir / "pki"),
            "HOCBA_SIGNERS_FILE": str(registry),
        },
        "python",
        "-c",
        probe,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["key"] == key
    assert seen["crl"] == 200
    assert {"dev-gvcn", "dev-hieu-truong", "dev-con-dau"} <= set(seen["signers"])

    # A second run keeps the PKI and the key (record identifiers never change).
    assert _init_dev_signing(dev_signing_dir, str(registry)) == 0
    assert key_file.read_text() == key


def test_dev_signing_refuses_a_registry_path_the_service_would_not_read(
    dev_signing_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _init_dev_signing(dev_signing_dir, "/elsewhere/signers.json") == 1
    assert "HOCBA_SIGNERS_FILE" in capsys.readouterr().err


def test_init_waits_only_for_servers_that_are_not_there_yet() -> None:
    init = _load_script(INIT_SCRIPT)

    def caused(error: Exception, cause: Exception) -> Exception:
        error.__cause__ = cause
        return error

    assert init.is_retriable(DatabaseUnavailableError("starting"))
    assert init.is_retriable(caused(TopicError("x"), KafkaConnectionError()))
    assert not init.is_retriable(caused(TopicError("x"), TopicAuthorizationFailedError()))
    assert not init.is_retriable(TopicError("refused"))
    assert not init.is_retriable(MigrationError("bad file"))
