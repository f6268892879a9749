#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds swarmprobe and runs every test.
# As root the namespace-lab integration tests run too; otherwise they are skipped with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
swift build
# Lab tests build namespaces and time probes: run suites one after another on small machines.
swift test --no-parallel "$@"
