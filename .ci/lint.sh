#!/usr/bin/env bash
# Style checks, read-only: ruff (lint and format) for Python, clang-format with the repository's
# .clang-format for C++. Needs `pip install ruff clang-format==23.1.5` (the clang-format
# wheel from PyPI, pinned because each release formats a little differently).
set -euo pipefail
cd "$(dirname "$0")/.."

ruff check .
ruff format --check .

# C++ files not yet formatted with clang-format; every other file under cpp/ is checked, new
# files included. TODO: format these and empty the list once the changes under way in them
# have landed (kernels, bindings and models are being restructured).
pending=(
  cpp/src/kernels/
  cpp/bindings/
  cpp/src/models/
  cpp/src/ops/
  cpp/src/cpu.cpp
  cpp/include/ccinfer/cond_mlp.h
  cpp/include/ccinfer/gru.h
  cpp/include/ccinfer/panel_gemm.h
)
files=()
while IFS= read -r f; do
  skip=0
  for p in "${pending[@]}"; do
    [[ "$f" == "$p"* ]] && skip=1 && break
  done
  [[ $skip == 0 ]] && files+=("$f")
done < <(git ls-files 'cpp/*.h' 'cpp/*.cpp')
clang-format --dry-run -Werror "${files[@]}"
echo "lint: ruff and clang-format clean (${#files[@]} C++ files checked, ${#pending[@]} paths pending)"
