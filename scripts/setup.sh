#!/usr/bin/env bash
# Installs what swarmprobe needs on a fresh Debian machine (idempotent; as root, or with sudo).
#   scripts/setup.sh           libpcap-dev, nftables, iproute2 (build, demo)
#   scripts/setup.sh --tests   also docker.io and busybox-static (the real-swarm integration tests)
set -euo pipefail
need=()
dpkg -s libpcap-dev >/dev/null 2>&1 || need+=(libpcap-dev)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ "${1:-}" = "--tests" ]; then
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "${1:-}" = "--tests" ]; then
  # A real EC2 API for the aws audit tests (LAB.md §3).
  command -v moto_server >/dev/null 2>&1 && command -v aws >/dev/null 2>&1 \
    || python3 -m pip install -q "moto[server]==5.2.1" "awscli==1.45.11"
fi
command -v swift >/dev/null 2>&1 || { echo "setup: swift is not on PATH (Swift 6 toolchain needed)" >&2; exit 1; }
