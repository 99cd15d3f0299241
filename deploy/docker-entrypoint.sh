#!/bin/sh
# Runs `medianest <args>`. When DATABASE_PASSWORD_FILE names a file (a Docker secret)
# and MEDIANEST_DATABASE_URL is unset, the PostgreSQL URL is built from it, so the
# password never sits in docker-compose.yml or `docker inspect` output.
set -eu
if [ -n "${DATABASE_PASSWORD_FILE:-}" ] && [ -z "${MEDIANEST_DATABASE_URL:-}" ]; then
    password="$(cat "$DATABASE_PASSWORD_FILE")"
    MEDIANEST_DATABASE_URL="postgresql+asyncpg://${DATABASE_USER:-medianest}:${password}@${DATABASE_HOST:-db}:${DATABASE_PORT:-5432}/${DATABASE_NAME:-medianest}"
    export MEDIANEST_DATABASE_URL
fi
unset DATABASE_PASSWORD_FILE DATABASE_USER DATABASE_HOST DATABASE_PORT DATABASE_NAME
exec medianest "$@"
