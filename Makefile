# EdgeInsight: `make demo` runs the main job on the built-in default; `make test` runs every test.
# Both set the machine up first (scripts/setup is idempotent).
.PHONY: setup demo test bench-engine clean

setup:
	@scripts/setup

demo: setup
	@echo "building edgeinsight (release; the first time takes several minutes; log in .build/release-build.log)"
	@swift build -c release --product edgeinsight >.build/release-build.log 2>&1 || (tail -20 .build/release-build.log; exit 1)
	@.build/release/edgeinsight demo

test: setup
	@swift test --skip-build

bench-engine: setup
	@benchmarks/engine-vs-benchmark_app

clean:
	rm -rf .build
