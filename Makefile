# The two commands: `make run` and `make test`. Each installs what it needs first.
.PHONY: run test tsan asan bench deps clean

CONCUR := build/dev/tools/concur/concur

run: deps
	cmake --preset dev
	cmake --build --preset dev
	$(CONCUR) demo

test: deps
	cmake --preset dev
	cmake --build --preset dev
	ctest --preset dev

# The whole suite under ThreadSanitizer (clang, with -Wthread-safety).
tsan: deps
	cmake --preset tsan
	cmake --build --preset tsan
	ctest --preset tsan

asan: deps
	cmake --preset asan
	cmake --build --preset asan
	ctest --preset asan

# Benchmarks against the peers, side by side, with ratios (optimised build).
bench: deps
	cmake --preset release
	cmake --build --preset release
	python3 bench/run.py build/release

deps:
	@scripts/deps.sh

clean:
	rm -rf build
