#!/usr/bin/env bash
# Benchmarks a no-op Go function (aws-lambda-go) under the AWS Runtime
# Interface Emulator and, when it is running, under Fluoro's invoker, with the
# same load driver: warm latency p50/p99 of sequential invokes, throughput
# with 1, 2, 8 and 32 concurrent callers, cold start to first response.
#
#   invoker/bench/rie.sh                 # emulator, plus Fluoro if 127.0.0.1:3001 answers
#   FLUORO=0 invoker/bench/rie.sh        # emulator only
#   FLUORO=1 invoker/bench/rie.sh        # require Fluoro (fail when it is not up)
#
# Environment: OUT (results folder, default a temp dir), DURATION (per
# throughput level, default 5s), SEQUENTIAL (default 2000), COLD_RUNS
# (default 10), CONCURRENCY (default 1,2,8,32), RIE_PORT (default 9000),
# CLIENT (the callers' HTTP client: raw, the default, or nethttp; see
# loaddriver -h),
# FLUORO_ENDPOINT (default http://127.0.0.1:3001), FLUORO_FUNCTION
# (default bench-noop; created from the same bootstrap when missing),
# FLUORO_CMD (a command starting Fluoro's invoker on FLUORO_ENDPOINT, e.g.
# "./fluoro invoker -invoker-data-dir /tmp/bench-data"): the driver then
# manages it like the emulator (restart per phase) instead of using an
# invoker that is already running. FLUORO_COLD (default update) is how a
# Fluoro cold start is forced: "update" (UpdateFunctionConfiguration, then
# the first invoke: a new execution environment, what AWS calls a cold
# start) or "restart" (restart the whole invoker process, then the first
# invoke).
#
# The emulator is installed with `go install` into a temporary GOBIN; it is
# not a module dependency of Fluoro. Everything runs on loopback.
set -euo pipefail

RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fluoro-bench.XXXXXX")
OUT=${OUT:-$WORK/results}
DURATION=${DURATION:-5s}
SEQUENTIAL=${SEQUENTIAL:-2000}
COLD_RUNS=${COLD_RUNS:-10}
CONCURRENCY=${CONCURRENCY:-1,2,8,32}
RIE_PORT=${RIE_PORT:-9000}
FLUORO=${FLUORO:-auto}
FLUORO_ENDPOINT=${FLUORO_ENDPOINT:-http://127.0.0.1:3001}
FLUORO_FUNCTION=${FLUORO_FUNCTION:-bench-noop}
mkdir -p "$OUT" "$WORK/bin" "$WORK/task"
trap 'rm -rf "$WORK/bin" "$WORK/task" "$WORK/gopath-tmp"' EXIT

echo "# building (work dir $WORK)" >&2
# The emulator: `go install pkg@version` works outside any module; GOFLAGS is
# cleared so a -mod setting of the caller cannot interfere.
(cd "$WORK" && GOFLAGS= GOBIN="$WORK/bin" go install \
	"github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$RIE_VERSION")
# The function and the driver, from Fluoro's module.
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$WORK/task/bootstrap" ./invoker/bench/testdata/noop)
(cd "$ROOT" && go build -trimpath -o "$WORK/bin/loaddriver" ./invoker/bench/loaddriver)
echo "# machine: $(nproc) cores, $(uname -sr), $(go version | cut -d' ' -f3)" | tee "$OUT/machine.txt" >&2

common=(-duration "$DURATION" -sequential "$SEQUENTIAL" -cold-runs "$COLD_RUNS" -concurrency "$CONCURRENCY" -client "${CLIENT:-raw}")

echo "# AWS Lambda Runtime Interface Emulator $RIE_VERSION" >&2
"$WORK/bin/loaddriver" "${common[@]}" -name "aws-lambda-rie" \
	-endpoint "http://127.0.0.1:$RIE_PORT" -function function \
	-server-cmd "$WORK/bin/aws-lambda-rie --log-level error --runtime-interface-emulator-address 127.0.0.1:$RIE_PORT --runtime-api-address 127.0.0.1:$((RIE_PORT + 1)) $WORK/task/bootstrap" \
	-server-log "$OUT/rie-server.log" -json "$OUT/rie.json" | tee "$OUT/rie.txt"

fluoro_up() { curl -s -o /dev/null --max-time 2 "$FLUORO_ENDPOINT/2015-03-31/functions/" 2>/dev/null; }
if [[ -n ${FLUORO_CMD:-} ]]; then
	echo "# Fluoro invoker started by the driver: $FLUORO_CMD" >&2
	"$WORK/bin/loaddriver" "${common[@]}" -name "fluoro" \
		-endpoint "$FLUORO_ENDPOINT" -function "$FLUORO_FUNCTION" -setup-bootstrap "$WORK/task/bootstrap" \
		-server-cmd "$FLUORO_CMD" -server-log "$OUT/fluoro-server.log" -cold-method "${FLUORO_COLD:-update}" \
		-json "$OUT/fluoro.json" | tee "$OUT/fluoro.txt"
elif [[ $FLUORO == 1 ]] || { [[ $FLUORO == auto ]] && fluoro_up; }; then
	echo "# Fluoro invoker at $FLUORO_ENDPOINT" >&2
	"$WORK/bin/loaddriver" "${common[@]}" -name "fluoro" \
		-endpoint "$FLUORO_ENDPOINT" -function "$FLUORO_FUNCTION" -setup-bootstrap "$WORK/task/bootstrap" \
		-json "$OUT/fluoro.json" | tee "$OUT/fluoro.txt"
else
	echo "# Fluoro invoker not reachable at $FLUORO_ENDPOINT: skipped (FLUORO=1 to require it)" >&2
fi
echo "# results in $OUT" >&2
