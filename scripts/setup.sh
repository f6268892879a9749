#!/usr/bin/env bash
# Installs what swarmprobe needs on a fresh Debian machine (idempotent; as root, or through sudo).
#   scripts/setup.sh           libpcap-dev, nftables, iproute2 (build, demo)
#   scripts/setup.sh --tests   also docker.io and busybox-static (the real-swarm integration tests),
#                              openssh-server and openssh-client (check --ssh on the lab),
#                              nmap and netcat-openbsd (the bench mesh test), moto and awscli,
#                              systemd (systemd-analyze) and strace (deploy/swarmprobe-agent.service's test),
#                              faketime (an agent whose clock is off)
#   scripts/setup.sh --bench   also nmap and netcat-openbsd (`swarmprobe bench mesh` runs them as peers)
# Options may be combined.
set -euo pipefail
tests=0 bench=0
for arg in "$@"; do
  case "$arg" in
    --tests) tests=1 bench=1 ;;
    --bench) bench=1 ;;
    *) echo "setup: unknown option $arg (--tests, --bench)" >&2; exit 2 ;;
  esac
done
need=()
dpkg -s libpcap-dev >/dev/null 2>&1 || need+=(libpcap-dev)
command -v nft >/dev/null 2>&1 || need+=(nftables)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
if [ $bench -eq 1 ]; then
  command -v nmap >/dev/null 2>&1 || need+=(nmap)
  # OpenBSD netcat: the bench's nc loop relies on its -z -u -w and its messages.
  dpkg -s netcat-openbsd >/dev/null 2>&1 || need+=(netcat-openbsd)
fi
if [ $tests -eq 1 ]; then
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v busybox >/dev/null 2>&1 || need+=(busybox-static)
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
  # The unit's test: systemd-analyze verifies it offline (no systemd as PID 1 needed), strace records what the
  # agent does under its sandbox; setpriv (util-linux) is always there.
  command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
  command -v strace >/dev/null 2>&1 || need+=(strace)
  # The clock tests run an agent whose clock is set ahead with libfaketime.
  command -v faketime >/dev/null 2>&1 || need+=(faketime)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ $tests -eq 1 ]; then
  # A real EC2 API for the aws audit tests.
  command -v moto_server >/dev/null 2>&1 && command -v aws >/dev/null 2>&1 \
    || python3 -m pip install -q "moto[server]==5.2.1" "awscli==1.45.11"
fi
. "$(dirname "$0")/swift-env.sh"
