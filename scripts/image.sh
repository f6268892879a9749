#!/bin/bash
# Builds the agent's container image, offline, for `swarmprobe check --swarm` and deploy/swarmprobe-stack.yml:
# FROM scratch with swarmprobe-agent, nft (the agent's firewall tap) and the shared libraries both need.
#
#   scripts/image.sh [--agent PATH] [--tag REF]
#
# --agent  the swarmprobe-agent to put in (default .build/release/swarmprobe-agent, built if missing)
# --tag    the image reference (default swarmprobe-agent:VERSION, VERSION from the agent)
# The image is built on the engine DOCKER_HOST names (or the local one); nothing is pulled. The image
# reference is the last line on stdout; how to get it onto the other nodes goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

agent="" tag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --agent) agent="${2:?--agent needs a path}"; shift 2 ;;
    --tag) tag="${2:?--tag needs an image reference}"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "image.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

command -v docker >/dev/null 2>&1 || { echo "image.sh: the docker CLI is not installed (apt-get install docker.io)" >&2; exit 1; }
nft=$(command -v nft || true)
[ -n "$nft" ] || { echo "image.sh: nft is not installed here (apt-get install nftables); the image carries it for the agent's tap" >&2; exit 1; }
if [ -z "$agent" ]; then
  agent=.build/release/swarmprobe-agent
  if [ ! -x "$agent" ]; then
    source scripts/swift-env.sh
    echo "image.sh: building the release agent (swift build -c release)" >&2
    swift build -c release --static-swift-stdlib --product swarmprobe-agent >&2
  fi
fi
[ -x "$agent" ] || { echo "image.sh: $agent is not an executable" >&2; exit 1; }
version=$("$agent" --version) || { echo "image.sh: $agent --version failed" >&2; exit 1; }
tag=${tag:-swarmprobe-agent:$version}

context=$(mktemp -d "${TMPDIR:-/tmp}/swarmprobe-image.XXXXXX")
trap 'rm -rf "$context"' EXIT
root="$context/rootfs"
mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/etc" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$agent" "$root/usr/bin/swarmprobe-agent"
cp "$nft" "$root/usr/sbin/nft"
# Every shared library either loads, at the path the loader looks for it, and the loader itself.
for lib in $( { ldd "$agent"; ldd "$nft"; } | awk '/=> \//{print $3} /^[ \t]*\/.*ld-linux/{print $1}' | sort -u); do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
# nft names protocols and services from these.
for f in /etc/protocols /etc/services; do [ -f "$f" ] && cp "$f" "$root$f"; done

cat > "$context/Dockerfile" <<DOCKERFILE
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/sbin:/usr/bin
LABEL org.opencontainers.image.title="swarmprobe-agent" org.opencontainers.image.version="$version"
ENTRYPOINT ["/usr/bin/swarmprobe-agent"]
DOCKERFILE

echo "image.sh: building $tag on ${DOCKER_HOST:-the local engine} ($(du -sh "$root" | cut -f1) of files)" >&2
DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$context" >/dev/null
cat >&2 <<HINT
image.sh: built $tag. Every node of the swarm needs it; either push it to a registry the nodes reach:
  docker tag $tag REGISTRY/$tag && docker push REGISTRY/$tag   (then check --swarm --image REGISTRY/$tag)
or copy it to each node without a registry:
  docker save $tag | gzip | ssh NODE 'gunzip | docker load'
HINT
echo "$tag"
