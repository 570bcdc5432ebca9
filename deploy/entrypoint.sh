#!/bin/sh
# Entry point of the Samsyn image: runs `samsyn "$@"` (default: serve).
#
# Commands that sign or serve the integrity log (serve, seal, checkpoint, key, export,
# verify --live) need the log's signing key and its fixed origin. Both come from
# configuration: the key is a mounted secret at SAMSYN_SIGNING_KEY_FILE, copied here to
# SAMSYN_SIGNING_KEY_PATH with mode 0600 (a secret volume's files are often group-readable,
# which Samsyn refuses for a private key); the origin is SAMSYN_LOG_ORIGIN. Made up on the
# spot instead, they would change the log's identity each time the container is re-created.
set -eu

command="${1:-serve}"
case "$command" in
  project|rebuild|token|demo|import|-h|--help)
    ;;
  *)
    if [ -z "${SAMSYN_LOG_ORIGIN:-}" ]; then
      echo "samsyn: set SAMSYN_LOG_ORIGIN to the log's fixed name (the signing key's name, e.g. ledger.example.org/samsyn)" >&2
      exit 78
    fi
    if [ -n "${SAMSYN_SIGNING_KEY_FILE:-}" ] && [ -r "$SAMSYN_SIGNING_KEY_FILE" ]; then
      umask 077
      mkdir -p "$(dirname "$SAMSYN_SIGNING_KEY_PATH")"
      cp "$SAMSYN_SIGNING_KEY_FILE" "$SAMSYN_SIGNING_KEY_PATH.new"
      chmod 0600 "$SAMSYN_SIGNING_KEY_PATH.new"
      mv -f "$SAMSYN_SIGNING_KEY_PATH.new" "$SAMSYN_SIGNING_KEY_PATH"
    elif [ ! -r "${SAMSYN_SIGNING_KEY_PATH:-}" ]; then
      echo "samsyn: no signing key: mount the log's key file at ${SAMSYN_SIGNING_KEY_FILE:-SAMSYN_SIGNING_KEY_FILE} (a secret; see docs/deployment.md)" >&2
      exit 78
    fi
    ;;
esac
exec samsyn "$@"
