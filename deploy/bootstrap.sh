#!/usr/bin/env bash
# Installs what a fresh Debian 12 machine lacks for hocba: Debian packages and a
# project venv (.venv) with the project and its dev tools. Idempotent; safe to re-run.
# Kafka's jars are fetched by `hocba stack up` (Maven), not here.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: PostgreSQL server, Java + Maven for the Kafka broker, kcat (a
# third-party Kafka client the tests use), fonts for the record PDF, SoftHSM2 (a PKCS#11
# token for signing keys in tests and the demo), poppler-utils (pdfsig, an independent
# check of the signatures), prometheus (promtool checks the alert rules, dashboards and
# metrics; `hocba stack up --with-monitoring` runs a local Prometheus) and docker-compose
# (`docker-compose config` validates docker-compose.yml; no Docker engine is needed or used),
# chromium + chromium-driver (the lookup and verification web page is tested end to end in
# headless Chromium through Selenium; Debian's browser, nothing downloaded).
packages=(postgresql default-jre-headless maven kcat fonts-dejavu-core softhsm2 poppler-utils
  prometheus docker-compose chromium chromium-driver)
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# A JDK installed outside Debian's packages (e.g. Temurin) serves as well as the JRE package.
if command -v java >/dev/null 2>&1; then
  missing=("${missing[@]/default-jre-headless}")
fi
if command -v mvn >/dev/null 2>&1; then
  missing=("${missing[@]/maven}")
fi
read -r -a missing <<<"${missing[*]:-}"
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "bootstrap: missing Debian packages: ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the prometheus package's own server on :9090 where systemd runs; the
  # platform starts its own (`stack up --with-monitoring`), so that one is switched off.
  if [[ " ${missing[*]} " == *" prometheus "* ]] && [[ -d /run/systemd/system ]]; then
    systemctl disable --now prometheus prometheus-node-exporter >/dev/null 2>&1 || true
  fi
fi

python=${PYTHON:-python3.11}
command -v "$python" >/dev/null 2>&1 || python=python3
if [[ ! -x .venv/bin/python ]]; then
  echo "bootstrap: creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
echo "bootstrap: installing the project into .venv"
.venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
# kustomize (pinned, built with the machine's Go from the module proxy) and the KEDA module
# whose CRD schema checks k8s/: the unit tests render and validate the overlays.
if bash deploy/k8s-tools.sh kustomize >/dev/null && bash deploy/k8s-tools.sh keda-module >/dev/null; then
  echo "bootstrap: kustomize and the KEDA schemas ready"
else
  echo "bootstrap: no Go 1.26 found: the k8s/ tests will be skipped (install Go to check them)" >&2
fi
echo "bootstrap: done ($(.venv/bin/hocba --help >/dev/null && echo 'hocba ready'))"
