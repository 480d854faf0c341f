#!/usr/bin/env bash
# Fresh-machine set-up shared by every make target: uv, the locked virtual environment, PostgreSQL binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v uv >/dev/null 2>&1; then
  UV=(uv)
else
  if ! python3 -m uv --version >/dev/null 2>&1; then
    echo "bootstrap: installing uv (pip install uv)"
    python3 -m pip install --quiet uv 2>/dev/null || python3 -m pip install --quiet --user uv
  fi
  UV=(python3 -m uv)
fi

echo "bootstrap: syncing .venv from uv.lock"
UV_COMPILE_BYTECODE=1 "${UV[@]}" sync --frozen --python 3.11 --quiet

# The embedded database needs the PostgreSQL server binaries (initdb, pg_ctl). Debian keeps them off PATH.
if [ -z "${DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
   && ! command -v initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing the PostgreSQL server (apt-get install postgresql)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "bootstrap: PostgreSQL server binaries not found; install them (apt-get install postgresql)" \
         "or set DATABASE_URL" >&2
    exit 1
  fi
fi
