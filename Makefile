# The two commands: `make run` and `make test`. Each installs what it needs first.
.PHONY: run test tsan asan bench deps clean

CONCUR := build/dev/tools/concur/concur

# Configures and builds one CMake preset.
define build_preset
	cmake --preset $(1)
	cmake --build --preset $(1)
endef

run: deps
	$(call build_preset,dev)
	$(CONCUR) demo

# Each ctest run goes through scripts/report_hangs.sh: a test still running at 80% of
# the default timeout (30 s times the preset's scale) leaves its threads' stacks in the
# log and in build/hang-reports.txt.
test: deps
	$(call build_preset,dev)
	HANG_REPORT_AFTER=24 scripts/report_hangs.sh ctest --preset dev

# The whole suite under ThreadSanitizer (clang, with -Wthread-safety).
tsan: deps
	$(call build_preset,tsan)
	HANG_REPORT_AFTER=144 scripts/report_hangs.sh ctest --preset tsan

asan: deps
	$(call build_preset,asan)
	HANG_REPORT_AFTER=96 scripts/report_hangs.sh ctest --preset asan

# Benchmarks against the peers, side by side, with ratios (optimised build).
bench: deps
	$(call build_preset,release)
	python3 bench/run.py build/release

deps:
	@scripts/deps.sh

clean:
	rm -rf build
