# EdgeInsight: `make demo` runs the main job on the built-in default; `make test` runs every test.
# Both set the machine up first (scripts/setup is idempotent).
.PHONY: setup demo test bench-engine clean

setup:
	@scripts/setup

demo: setup
	@swift build -c release --product edgeinsight >/dev/null
	@.build/release/edgeinsight demo

test: setup
	@swift test --skip-build

bench-engine: setup
	@benchmarks/engine-vs-benchmark_app

clean:
	rm -rf .build
