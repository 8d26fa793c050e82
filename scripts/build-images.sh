#!/usr/bin/env bash
# Builds the three function images from the Dockerfile and, with --push, pushes them.
# Usage: scripts/build-images.sh [--registry REGION-docker.pkg.dev/PROJECT/REPO] [--tag TAG] [--push]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REGISTRY="bacca"
TAG="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo dev)"
PUSH=0
while [ $# -gt 0 ]; do
  case "$1" in
    --registry) REGISTRY="$2"; shift 2 ;;
    --tag) TAG="$2"; shift 2 ;;
    --push) PUSH=1; shift ;;
    -h|--help) sed -n '2,3p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v docker >/dev/null || { echo "docker is required to build images" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "no Docker engine is reachable (docker info failed)" >&2; exit 1; }
for fn in fetch anonymize expire; do
  image="$REGISTRY/bacca-$fn:$TAG"
  echo "building $image"
  docker build --target "$fn" -t "$image" "$ROOT"
  if [ "$PUSH" -eq 1 ]; then docker push "$image"; fi
done
