#!/usr/bin/env bash
# Installs the Debian 12 packages concur builds, tests and benchmarks with. As root it
# runs apt-get; otherwise it prints the exact command and fails, changing nothing.
set -euo pipefail

packages=(
  cmake ninja-build g++ clang libclang-rt-14-dev   # build; clang for -Wthread-safety and TSAN
  libgtest-dev libgmock-dev libbenchmark-dev        # tests and benchmarks
  gdb                                               # the stacks of a test that hangs (scripts/report_hangs.sh)
  libtbb-dev python3                                # benchmark peers (oneTBB, Python's executors)
  libcereal-dev                                     # ProcessPool: arguments and results
  librandom123-dev                                  # concur::Random (Philox)
  libuv1-dev pkg-config                             # the event loop
  libopenblas-dev python3-numpy                     # BLAS control tests; the numpy peer of bench/sci
  python3-uvloop                                    # the asyncio/uvloop peer of bench/loop
  libcli11-dev libfmt-dev nlohmann-json3-dev        # the concur CLI
  libcurl4-openssl-dev libhttp-parser-dev           # HTTP: the client (libcurl), the server's parser
  nginx-light wrk openssl                           # HTTP tests and benchmarks: the reference server, the load generator, test certificates
  python3-aiohttp python3-requests                  # the Python peers of bench/http
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "concur: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "concur: missing Debian packages. Install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
