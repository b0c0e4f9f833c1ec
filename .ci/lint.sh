#!/usr/bin/env bash
# Style checks, read-only: ruff (lint and format) for Python, clang-format with the repository's
# .clang-format for C++. Needs `pip install ruff clang-format==23.1.5` (the clang-format
# wheel from PyPI, pinned because each release formats a little differently).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q ruff "clang-format==23.1.5"

ruff check .
ruff format --check .

files=()
while IFS= read -r f; do files+=("$f"); done < <(git ls-files 'cpp/*.h' 'cpp/*.cpp' 'cpp/*.c' 'fuzz/*.cpp' 'fuzz/*.c')
clang-format --dry-run -Werror "${files[@]}"
echo "lint: ruff and clang-format clean (${#files[@]} C/C++ files checked)"
