#!/bin/sh
# Hands over to the command (gunicorn by default). It does not migrate: with
# several replicas every start would race the others. Run
# `python manage.py migrate --noinput` once per release instead (compose's
# one-off service, the Kubernetes Job, systemd's ExecStartPre); until then
# /health/ready answers 503 and each worker logs the pending migrations.
# MIGRATE_ON_START=true migrates first, for a single container on its own.
set -eu
case "${MIGRATE_ON_START:-false}" in
    true) python manage.py migrate --noinput ;;
    false) ;;
    *)
        echo "MIGRATE_ON_START must be true or false, not '${MIGRATE_ON_START}'" >&2
        exit 2
        ;;
esac
exec "$@"
