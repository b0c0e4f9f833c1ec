#!/usr/bin/env bash
# Debian packages CI needs beyond Python and gcc: clang with its fuzzer and sanitizer runtimes
# and OpenMP (the libFuzzer harness), nlohmann-json for the C++ loader.
set -euo pipefail
pkgs=(clang libclang-rt-14-dev libomp-14-dev nlohmann-json3-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
