#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds swarmprobe and runs its demo: as root (or through sudo) a namespace
# lab with faults, otherwise agents on loopback. Flags go to `swarmprobe demo` (--help lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
. scripts/swift-env.sh
swift build --product swarmprobe 2>&1 | grep -E "error|warning: |Compiling|Build" | grep -v "distributed" | tail -n 3 >&2
exec .build/debug/swarmprobe demo "$@"
