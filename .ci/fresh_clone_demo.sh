#!/usr/bin/env bash
# CI: the README's first command, exactly as written, run as a new user runs it: in a copy of
# the clean checkout (`git archive HEAD`) placed in a temporary folder where no ../shared
# exists, in a fresh virtual environment. Fails if the command fails or the demo did not run
# to its end; prints the install and demo times (not checked: no speed targets in CI).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
first_command='python -m pip install . && python -m ccinfer demo'
# The README must carry the very command run here.
grep -qF "$first_command" "$repo/README.md" || { echo "README's first command drifted"; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/clone"
git -C "$repo" archive HEAD | tar -x -C "$work/clone"
if [ -e "$work/shared" ]; then echo "unexpected $work/shared"; exit 1; fi

python3 -m venv "$work/venv"
# shellcheck disable=SC1091
source "$work/venv/bin/activate"
export CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}"
cd "$work/clone"
start=$(date +%s)
set +e
eval "$first_command" 2>&1 | tee "$work/log"
code=${PIPESTATUS[0]}
set -e
total=$(( $(date +%s) - start ))
[ "$code" -eq 0 ] || { echo "fresh clone: the README's first command failed (exit $code)"; exit 1; }
demo_s=$(sed -n 's/^demo done in \([0-9]*\) s$/\1/p' "$work/log")
[ -n "$demo_s" ] || { echo "fresh clone: the demo did not reach its end"; exit 1; }
if grep -q "Traceback" "$work/log"; then echo "fresh clone: a traceback was printed"; exit 1; fi
echo "fresh clone: install + demo ${total} s, of which the demo ${demo_s} s (load: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs)"
