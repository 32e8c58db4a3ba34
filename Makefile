# The README's two commands are `make up` and `make test`.
.PHONY: up test build ui bench clean

GO ?= go

# Build the dashboard (if its packages are installed) and the binary.
build:
	deploy/scripts/install-deps.sh
	npm run --silent build
	$(GO) build -o fluoro .

# Start the whole system (managed ClickHouse, collector, query API + dashboard, invoker) with a demo workload.
up: build
	./fluoro up --demo

# Run every test (installs what it needs, starts a private ClickHouse).
test:
	deploy/scripts/test.sh

# Benchmarks; figures are recorded in docs/benchmarks.md.
bench:
	deploy/scripts/bench.sh

clean:
	rm -rf fluoro .fluoro
	find ui/dist -mindepth 1 ! -name placeholder.html -delete
