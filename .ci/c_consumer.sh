#!/usr/bin/env bash
# The core as a C library, the way a device project consumes it: configured with Python out of
# reach (CCINFER_BLAS=OFF), built, installed into a prefix; then the C examples are built out
# of tree against the installed core twice, with pkg-config and with CMake's
# find_package(ccinfer), and run on the shipped models from a file, from memory and from memory
# in place (each example exits 1 if the three disagree). Their outputs, greedy and sampled
# text included, are compared with Python's by tests/test_c_examples.py (CCINFER_C_EXAMPLES).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
# The build directory tests/test_c_examples.py uses too, with the same options: whichever runs
# second rebuilds nothing.
work=${CCINFER_C_CONSUMER_DIR:-$root/build/c-core}
jobs=${CCINFER_JOBS:-2}

if [ ! -f /usr/include/nlohmann/json.hpp ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && apt-get install -y -qq nlohmann-json3-dev >/dev/null
fi

# Any attempt to run Python while configuring fails loudly.
fake=$work/no-python
mkdir -p "$fake"
for name in python python3; do
  printf '#!/bin/sh\necho "python must not run while configuring the C core" >&2\nexit 97\n' \
    >"$fake/$name"
  chmod +x "$fake/$name"
done
PATH="$fake:$PATH" cmake -S . -B "$work" -DCCINFER_BUILD_PYTHON=OFF -DCCINFER_BLAS=OFF \
  -DCCINFER_BUILD_EXAMPLES=ON -DCCINFER_INSTALL=ON -DCMAKE_DISABLE_FIND_PACKAGE_Python=ON \
  -DCMAKE_INSTALL_PREFIX="$work/prefix" -DCMAKE_BUILD_TYPE=Release
if grep -q "Python_EXECUTABLE:" "$work/CMakeCache.txt" \
    && ! grep -q "Python_EXECUTABLE:.*NOTFOUND" "$work/CMakeCache.txt"; then
  echo "configuring the C core found a Python interpreter"; exit 1
fi
cmake --build "$work" -j"$jobs"
cmake --install "$work" >/dev/null
ls -l "$work/prefix/lib/libccinfer.a"

# 1. pkg-config and the C compiler, nothing else.
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
mkdir -p "$work/bin"
for example in classify_digits generate_text model_heap; do
  cc -std=c99 -O2 -Wall -Wextra -Werror "cpp/examples/$example.c" \
    $(pkg-config --cflags --libs ccinfer) -o "$work/bin/$example"
done

# 2. CMake, find_package(ccinfer), a C-only project.
consumer=$work/cmake-consumer
mkdir -p "$consumer"
cat >"$consumer/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.18)
project(ccinfer_consumer LANGUAGES C)
find_package(ccinfer 0.1 REQUIRED)
foreach(example classify_digits generate_text)
  add_executable(\${example} "$root/cpp/examples/\${example}.c")
  target_link_libraries(\${example} PRIVATE ccinfer::core)
endforeach()
CMAKE
cmake -S "$consumer" -B "$consumer/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$consumer/build" -j"$jobs" >/dev/null

# Outputs are captured whole, then shortened: `| head` could end a program early (SIGPIPE),
# which pipefail would report as a failure.
for bin in "$work/bin" "$consumer/build"; do
  out=$("$bin/classify_digits" models/mnist/mnist-50-35-25.safetensors) && head -2 <<<"$out"
  out=$("$bin/classify_digits" models/tree/mnist-tree-k4.safetensors) && head -2 <<<"$out"
  out=$("$bin/generate_text" models/text/char-unstructured-h256.safetensors "the king said " 50)
  head -1 <<<"$out"
done
cmp <("$work/bin/generate_text" models/text/char-unstructured-h256.safetensors "the " 40) \
    <("$consumer/build/generate_text" models/text/char-unstructured-h256.safetensors "the " 40)
cmp <("$work/bin/generate_text" models/text/char-block-h256.safetensors "the " 40 0.8 7) \
    <("$consumer/build/generate_text" models/text/char-block-h256.safetensors "the " 40 0.8 7)

# The heap each shipped model takes, copied and in place (the README's table); exits 1 if the
# in-place load computes anything else.
"$work/bin/model_heap" models/mnist/mnist-50-35-25.safetensors \
  models/tree/mnist-tree-k4.safetensors models/text/char-*-h256.safetensors

# Python's outputs against the installed core's, bit for bit where the paths match.
CCINFER_C_EXAMPLES="$work/bin" python -m pytest tests/test_c_examples.py -q
