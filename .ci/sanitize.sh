#!/usr/bin/env bash
# The test suite against a build with -fsanitize=address,undefined and the internal invariants
# (CCINFER_DCHECK) checked. Python itself is not instrumented, so the sanitizer runtimes are
# preloaded; leak detection is off because CPython keeps allocations alive until exit.
# The demo's subprocess test is left out: under ASan it runs for minutes and exercises nothing
# the model tests do not.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=$(mktemp -d)/venv
python -m venv --system-site-packages "$venv"
# shellcheck disable=SC1091
source "$venv/bin/activate"
python -m pip install -q scikit-build-core pybind11 scipy-openblas64 numpy
python -m pip install -q --no-build-isolation ".[test]" -Cbuild-dir=build/ci-sanitize \
  -Ccmake.define.CCINFER_SANITIZE=ON \
  -Ccmake.define.CCINFER_DCHECK=ON

export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# tests/test_dcheck.py fails unless this build really checks its invariants.
export CCINFER_REQUIRE_DCHECK=1
# The optional frameworks are whatever this venv's base interpreter has: their tests run where
# they are installed and skip where not (the README test command's stage requires them). The
# converter tests against Keras, ONNX Runtime and scikit-learn are left out: they check Python
# conversion maths against those libraries, and loading the libraries' own native code beside
# a preloaded ASan runtime would test them, not ccinfer's core.
unset CCINFER_REQUIRE_TORCH CCINFER_REQUIRE_ONNX CCINFER_REQUIRE_SKLEARN CCINFER_REQUIRE_KERAS \
  CCINFER_REQUIRE_MYPY CCINFER_REQUIRE_DASK
python -m pytest tests -q -p no:cacheprovider --ignore=tests/test_demo.py \
  --ignore=tests/test_keras.py --ignore=tests/test_onnx.py --ignore=tests/test_sklearn.py
