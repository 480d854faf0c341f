#!/usr/bin/env bash
# n8n 2.8.4 for the automation end-to-end test, installed once into a cache outside the checkout (~2.3 GB, ~5 min
# the first time; nothing after). 2.8.4 is the newest release that runs on Node 20; the xlsx override avoids a
# tarball from a host outside the package registry. Prints the n8n binary's path.
set -euo pipefail
VERSION=2.8.4
CACHE="${N8N_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/autonomous-crm/n8n-$VERSION}"
BIN="$CACHE/node_modules/.bin/n8n"
if [ -x "$BIN" ]; then echo "$BIN"; exit 0; fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "install_n8n: Node.js 20 and npm are needed for the n8n tests (apt-get install nodejs npm)" >&2
  exit 1
fi
mkdir -p "$CACHE"
cat > "$CACHE/package.json" <<JSON
{"name": "autonomous-crm-n8n", "private": true, "dependencies": {"n8n": "$VERSION"},
 "overrides": {"xlsx": "0.18.5"}}
JSON
echo "install_n8n: installing n8n $VERSION into $CACHE (once, about 5 minutes)" >&2
(cd "$CACHE" && npm install --no-audit --no-fund --loglevel=error >&2)
echo "$BIN"
