#!/usr/bin/env bash
# Builds the model-loader fuzzer (fuzz/loader_fuzzer.cpp; clang with libFuzzer, ASan, UBSan)
# and runs it on the committed seed corpus for a bounded time on one core.
#   .ci/fuzz.sh [SECONDS]        (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
work=${CCINFER_FUZZ_DIR:-build/fuzz}

if ! command -v clang++-14 >/dev/null || [ ! -f /usr/include/nlohmann/json.hpp ] \
    || [ ! -d /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux ] || [ ! -f /usr/lib/llvm-14/lib/libomp.so ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    apt-get install -y -qq clang-14 libclang-rt-14-dev libomp-14-dev nlohmann-json3-dev >/dev/null
  fi
fi
CC=clang-14 CXX=clang++-14 cmake -S . -B "$work" -DCCINFER_BUILD_PYTHON=OFF -DCCINFER_BLAS=OFF \
  -DCCINFER_BUILD_FUZZERS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_DISABLE_FIND_PACKAGE_Python=ON
cmake --build "$work" -j"${CCINFER_JOBS:-2}" --target loader_fuzzer

# A scratch copy of the corpus: new inputs the run finds must not dirty the checkout.
corpus=$work/corpus
rm -rf "$corpus" && mkdir -p "$corpus" && cp fuzz/corpus/* "$corpus/"
mkdir -p "$work/artifacts"
OMP_NUM_THREADS=1 "$work/fuzz/loader_fuzzer" "$corpus" -max_total_time="$seconds" -max_len=65536 \
  -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$work/artifacts/"
