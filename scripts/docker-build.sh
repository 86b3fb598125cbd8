#!/usr/bin/env bash
# Builds Weir's container image from this checkout: a static weir binary (CGO_ENABLED=0) in a fresh build
# context, wrapped by the repository's Dockerfile (FROM scratch). The tag is weir:dev unless given.
#
#   scripts/docker-build.sh [TAG]
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-weir:dev}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -o "$ctx/weir" ./cmd/weir
mkdir "$ctx/data"
chmod 1777 "$ctx/data"
docker build -q -f Dockerfile -t "$tag" "$ctx" >/dev/null
echo "built $tag"
