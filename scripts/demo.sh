#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds swarmprobe and runs its demo (as root: a namespace lab with faults).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build --product swarmprobe 2>&1 | grep -E "error|warning: |Compiling|Build" | grep -v "distributed" | tail -n 3 >&2
exec .build/debug/swarmprobe demo "$@"
