#!/usr/bin/env bash
# Runs Fluoro's benchmarks against a private ClickHouse and prints the
# figures recorded in docs/benchmarks.md. Output also goes to bench-out/.
#
#   BENCHTIME=1s   go test -benchtime
#   COUNT=1        go test -count (use 6 with benchstat)
set -euo pipefail
cd "$(dirname "$0")/../.."
deploy/scripts/install-deps.sh
out=bench-out
mkdir -p "$out"
work=$(mktemp -d /tmp/fluoro-bench.XXXXXX)
ch_pid=""
cleanup() {
  if [ -n "$ch_pid" ]; then kill "$ch_pid" 2>/dev/null || true; wait "$ch_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/fluoro" .
port=${FLUORO_BENCH_CLICKHOUSE_PORT:-19700}
"$work/fluoro" clickhouse --clickhouse-dir "$work/clickhouse" --clickhouse-tcp-port "$port" \
  --clickhouse-http-port $((port + 1)) >"$work/clickhouse.out" 2>&1 &
ch_pid=$!
for i in $(seq 1 120); do grep -q "clickhouse ready" "$work/clickhouse.out" 2>/dev/null && break; sleep 0.5; done
export FLUORO_TEST_CLICKHOUSE="clickhouse://127.0.0.1:$port"

benchtime=${BENCHTIME:-1s}
count=${COUNT:-1}
run() { # package, benchmark regexp
  echo "== go test -run '^\$' -bench '$2' -benchmem -benchtime $benchtime -count $count $1"
  go test -run '^$' -bench "$2" -benchmem -benchtime "$benchtime" -count "$count" "$1" | tee -a "$out/go-bench.txt"
}
: >"$out/go-bench.txt"
run ./collector/segment/ .
run ./collector/spool/ .
run ./collector/otlp/ .
run ./collector/ 'UDPIngest|EndToEnd'
run ./schema/chstore/ .
run ./query/filter/ .
run ./query/xraytrace/ .
echo "== service graph and query latency over an hour of 1,000,000 traces (FLUORO_BENCH_TRACES to change)"
go test -run '^$' -bench 'Hour' -benchtime 30x -timeout 90m ./query/graphstore/ | tee -a "$out/go-bench.txt"
run ./query/alert/ .
if go test -list '^Benchmark' ./invoker/... 2>/dev/null | grep -q '^Benchmark'; then
  run ./invoker/... .
fi
echo "results in $out/go-bench.txt"
