# EdgeInsight: `make demo` runs the main job on the built-in default; `make test` runs every test.
# Both set the machine up first (scripts/setup is idempotent) and build only what they need.
.PHONY: setup demo test bench-engine clean

setup:
	@scripts/setup

demo:
	@scripts/setup --no-build --runtime-only
	@echo "building edgeinsight (release; the first time takes several minutes; log in .build/release-build.log)"
	@swift build -c release --product edgeinsight >.build/release-build.log 2>&1 || (grep -E "error:" .build/release-build.log | head -20; tail -5 .build/release-build.log; exit 1)
	@.build/release/edgeinsight demo

test:
	@scripts/setup --no-build
	@scripts/test

bench-engine: setup
	@benchmarks/engine-vs-benchmark_app

clean:
	rm -rf .build
