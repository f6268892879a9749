#!/usr/bin/env bash
# Checks the layout of every Swift file against .swift-format (the toolchain's `swift format`).
# `scripts/lint.sh --fix` rewrites them instead.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/swift-env.sh
paths=(Package.swift Sources Tests Fuzz/Package.swift Fuzz/Sources)
if [ "${1:-}" = "--fix" ]; then
  exec swift format --in-place --recursive "${paths[@]}"
fi
swift format lint --strict --recursive "${paths[@]}"
