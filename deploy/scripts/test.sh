#!/usr/bin/env bash
# Runs every Fluoro test against a real ClickHouse: static checks, the Go
# suite with the race detector, a short run of every fuzz target, the
# dashboard's unit tests and its end-to-end test in headless Chromium.
# It installs what is missing (Debian packages, npm packages) first.
#
#   FUZZTIME=10000x  budget of each fuzz target (0 to skip fuzzing). A count,
#                  not a duration: with a duration, go1.26's fuzz coordinator
#                  can fail a healthy target with "context deadline exceeded"
#                  when the deadline fires while a worker is busy on a loaded
#                  machine (golang/go#75804, fixed in go1.27).
#   SKIP_E2E=1     skip the browser end-to-end test
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

deploy/scripts/install-deps.sh --with-chromium

work=$(mktemp -d /tmp/fluoro-test.XXXXXX)
ch_pid=""
cleanup() {
  if [ -n "$ch_pid" ]; then kill "$ch_pid" 2>/dev/null || true; wait "$ch_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "== static checks"
unformatted=$(git ls-files '*.go' | while read -r f; do [ -f "$f" ] && echo "$f"; done | xargs gofmt -l)
if [ -n "$unformatted" ]; then echo "gofmt needed: $unformatted"; exit 1; fi
go vet ./...

echo "== building fluoro"
go build -o "$work/fluoro" .

# One ClickHouse for the whole run, on ports that do not clash with a system server.
port=${FLUORO_TEST_CLICKHOUSE_PORT:-19100}
"$work/fluoro" clickhouse --clickhouse-dir "$work/clickhouse" --clickhouse-tcp-port "$port" \
  --clickhouse-http-port $((port + 1)) >"$work/clickhouse.out" 2>&1 &
ch_pid=$!
for i in $(seq 1 120); do
  if grep -q "clickhouse ready" "$work/clickhouse.out" 2>/dev/null; then break; fi
  if ! kill -0 "$ch_pid" 2>/dev/null; then cat "$work/clickhouse.out"; echo "ClickHouse did not start"; exit 1; fi
  sleep 0.5
done
grep -q "clickhouse ready" "$work/clickhouse.out" || { cat "$work/clickhouse.out"; echo "ClickHouse did not answer"; exit 1; }
export FLUORO_TEST_CLICKHOUSE="clickhouse://127.0.0.1:$port"
echo "ClickHouse for tests: $FLUORO_TEST_CLICKHOUSE"

echo "== go test -race"
go test -race -count=1 -timeout 30m ./...

fuzztime=${FUZZTIME:-10000x}
if [ "$fuzztime" != "0" ]; then
  echo "== fuzzing (each target $fuzztime)"
  for pkg in $(go list ./...); do
    for target in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
      echo "-- $pkg $target"
      go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
    done
  done
fi

if [ -f package.json ]; then
  echo "== dashboard: typecheck, unit tests, build"
  npm run --silent typecheck
  npm test --silent
  npm run --silent build
  if [ "${SKIP_E2E:-0}" != "1" ] && grep -q '"e2e"' package.json; then
    echo "== dashboard: end to end in headless Chromium against the real system"
    go build -o "$work/fluoro" .   # again: now it embeds the dashboard just built
    go build -o "$work/e2e" ./deploy/e2e
    FLUORO_BIN="$work/fluoro" "$work/e2e"
  fi
fi
echo "== all tests passed"
