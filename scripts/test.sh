#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds swarmprobe and runs every test: as root (or through sudo) the
# namespace-lab, Docker and AWS suites too; otherwise they are skipped, each with the reason.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
. scripts/swift-env.sh
scripts/lint.sh
swift build --build-tests
# Lab tests build namespaces and time probes: run suites one after another on small machines.
swift test --skip-build --no-parallel "$@"
