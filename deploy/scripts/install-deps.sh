#!/usr/bin/env bash
# Installs what Fluoro needs on a fresh Debian machine that has Go and Node:
# Debian's clickhouse-server (and client), Chromium for the browser tests
# (with --with-chromium), and the npm packages of the dashboard.
set -euo pipefail
cd "$(dirname "$0")/../.."

want_chromium=0
[ "${1:-}" = "--with-chromium" ] && want_chromium=1

missing=()
command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/sbin/clickhouse-server ] || missing+=(clickhouse-server clickhouse-client)
if [ $want_chromium = 1 ] && ! [ -x /usr/bin/chromium ]; then missing+=(chromium); fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "installing npm packages (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
