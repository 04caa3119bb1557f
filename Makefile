# EdgeInsight: `make demo` runs the main job on the built-in default; `make test` runs every test.
# Both set the machine up first (scripts/setup is idempotent).
.PHONY: setup demo test bench-engine clean

setup:
	@scripts/setup

demo: setup
	@swift build -c release --product edgeinsight >/dev/null
	@echo "== edgeinsight bench mobilenet_v2, LATENCY hint (one request at a time) =="
	@.build/release/edgeinsight bench mobilenet_v2 --hint latency --duration 5s
	@echo
	@echo "== edgeinsight bench mobilenet_v2, THROUGHPUT hint (requests in parallel) =="
	@.build/release/edgeinsight bench mobilenet_v2 --hint throughput --duration 5s

test: setup
	@swift test --skip-build

bench-engine: setup
	@benchmarks/engine-vs-benchmark_app

clean:
	rm -rf .build
