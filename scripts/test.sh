#!/usr/bin/env bash
# Installs what cased needs (Debian 12, as root), builds it twice - optimised,
# then with AddressSanitizer and UBSan - and runs every test against both.
# Both builds have the test hooks (CASED_NOW) that release builds lack.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

jobs=$(nproc)
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"

echo "== release build"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCASED_TEST_HOOKS=ON >/dev/null
cmake --build build/release -j"$jobs"
ctest --test-dir build/release --output-on-failure -j2 --timeout 900

echo "== AddressSanitizer + UBSan build"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DCASED_SANITIZE=ON -DCASED_TEST_HOOKS=ON >/dev/null
cmake --build build/asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  CASED_UNDER_SANITIZER=1 ctest --test-dir build/asan --output-on-failure -j2 --timeout 1800
