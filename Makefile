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

test: deps
	$(call build_preset,dev)
	ctest --preset dev

# The whole suite under ThreadSanitizer (clang, with -Wthread-safety).
tsan: deps
	$(call build_preset,tsan)
	ctest --preset tsan

asan: deps
	$(call build_preset,asan)
	ctest --preset asan

# Benchmarks against the peers, side by side, with ratios (optimised build).
bench: deps
	$(call build_preset,release)
	python3 bench/run.py build/release

deps:
	@scripts/deps.sh

clean:
	rm -rf build
