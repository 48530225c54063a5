#!/bin/sh
# Entrypoint of the platform image (deploy/docker/Dockerfile) under docker-compose.
# Kubernetes (k8s/) sets `command:` and so never runs it: there the pod name is the
# instance id and Secrets are environment variables already.
#
# 1. Secrets as files. Every regular file named HOCBA_<NAME> in the directories of
#    SECRET_ENV_DIRS (colon-separated, default /run/secrets, where compose mounts
#    `secrets:`) becomes the variable HOCBA_<NAME> with the file's content (trailing
#    newlines dropped), unless the environment already sets it; the first directory
#    listed wins. So no secret value is ever written into docker-compose.yml.
# 2. HOCBA_INSTANCE_ID, when unset, is the container's hostname (its id under compose):
#    distinct for every replica of `deploy.replicas`, and the same across restarts of
#    one container. It suffixes the replica's Kafka transactional id.
# 3. DEV_PKI_SERVE_DIR (local try only): serve that development PKI (OCSP, CRLs, TSA)
#    on this container's loopback, where its certificates point (127.0.0.1:9781),
#    for as long as the service runs. Needs the image built with DEV_PKI=true.
# Then it runs the command given (`python -m services.<name>`, `hocba ...`).
set -eu

old_ifs=$IFS
IFS=:
for dir in ${SECRET_ENV_DIRS:-/run/secrets}; do
  IFS=$old_ifs
  [ -d "$dir" ] || continue
  for file in "$dir"/HOCBA_*; do
    [ -f "$file" ] || continue
    name=${file##*/}
    case $name in
      *[!A-Z0-9_]*) continue ;;  # not a variable name: left alone
    esac
    if eval "[ -z \"\${$name+set}\" ]"; then
      value=$(cat "$file")
      export "$name=$value"
    fi
  done
done
IFS=$old_ifs

if [ -z "${HOCBA_INSTANCE_ID:-}" ]; then
  HOCBA_INSTANCE_ID=$(uname -n)
  export HOCBA_INSTANCE_ID
fi

if [ -n "${DEV_PKI_SERVE_DIR:-}" ]; then
  # The server prints {"port": N} once it listens ({"error": ...} if it cannot), then
  # serves until its standard input closes. Its input is a pipe whose writing end (fd 3)
  # the service inherits through `exec`: the server ends when the service does.
  pipes=$(mktemp -d "${TMPDIR:-/tmp}/dev-pki.XXXXXX")
  mkfifo "$pipes/input" "$pipes/report"
  python -m services.signing.devpki serve "$DEV_PKI_SERVE_DIR" <"$pipes/input" >"$pipes/report" &
  exec 3>"$pipes/input"
  report=""
  read -r report <"$pipes/report" || true
  rm -rf "$pipes"
  case $report in
    '{"port"'*) echo "entrypoint: dev PKI of $DEV_PKI_SERVE_DIR served on loopback: $report" >&2 ;;
    *)
      echo "entrypoint: the dev PKI server did not start: ${report:-no report}" >&2
      exit 1
      ;;
  esac
fi

exec "$@"
