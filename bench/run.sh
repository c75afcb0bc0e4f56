#!/bin/sh
# run.sh - `make bench`: builds and runs every benchmark, one line each.
set -e
cd "$(dirname "$0")/.."
make -s build/bench_nn && ./build/bench_nn
