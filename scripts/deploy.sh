#!/usr/bin/env bash
# Deploys bacca: builds and pushes the three function images, then applies a Terraform root
# module (terraform/examples/<name> or your own environment directory).
#
# Usage: scripts/deploy.sh [options] DIR
#
#   DIR                 Terraform root module, e.g. terraform/examples/two-tenants
#   --project ID        Google Cloud project (passed as -var project_id=ID; default: the
#                       root module's tfvars, then $GOOGLE_CLOUD_PROJECT)
#   --region REGION     passed as -var region=REGION (default: the root module's value)
#   --var-file FILE     extra variables file for terraform (repeatable)
#   --tag TAG           image tag (default: git commit, with -dirty-<time> if the tree is dirty)
#   --skip-build        do not build or push; the images with TAG must already exist
#   --plan              init and plan only: build nothing, change nothing
#   --auto-approve      apply without asking for confirmation
#   -h, --help          this help
#
# Phases: (1) terraform apply with deploy_services=false: keys, buckets, secrets, registry,
# topics, database, IAM; (2) stop if a connector secret has no version yet, printing the
# `gcloud secrets versions add` commands; (3) docker build --target <function> with the
# repository's Dockerfile and push to the platform's Artifact Registry; (4) terraform apply
# with deploy_services=true and image_tag=TAG: services, push subscriptions, scheduler jobs.
#
# Needs: terraform (>= 1.6), gcloud (authenticated: gcloud auth login and
# gcloud auth application-default login), docker (unless --skip-build or --plan), jq or python3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUNCTIONS=(fetch anonymize expire)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "deploy.sh: $*" >&2; exit 1; }

DIR=""
PROJECT="${GOOGLE_CLOUD_PROJECT:-}"
PROJECT_FLAG=0
REGION=""
TAG=""
SKIP_BUILD=0
PLAN_ONLY=0
AUTO_APPROVE=()
VAR_FILES=()

while [ $# -gt 0 ]; do
  case "$1" in
    --project) [ $# -ge 2 ] || die "--project needs a value"; PROJECT="$2"; PROJECT_FLAG=1; shift 2 ;;
    --region) [ $# -ge 2 ] || die "--region needs a value"; REGION="$2"; shift 2 ;;
    --var-file) [ $# -ge 2 ] || die "--var-file needs a value"; VAR_FILES+=("-var-file=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
    --tag) [ $# -ge 2 ] || die "--tag needs a value"; TAG="$2"; shift 2 ;;
    --skip-build) SKIP_BUILD=1; shift ;;
    --plan) PLAN_ONLY=1; shift ;;
    --auto-approve) AUTO_APPROVE=(-auto-approve); shift ;;
    -h | --help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$DIR" ] || die "only one directory may be given (see --help)"; DIR="$1"; shift ;;
  esac
done

[ -n "$DIR" ] || { usage >&2; die "missing the Terraform directory, e.g. terraform/examples/two-tenants"; }
[ -d "$DIR" ] || die "$DIR is not a directory"
ls "$DIR"/*.tf >/dev/null 2>&1 || die "$DIR holds no .tf files"
DIR="$(cd "$DIR" && pwd)"

# --- tools -------------------------------------------------------------------------------
need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "deploy.sh: '$1' is required but not on PATH. $2" >&2
  MISSING=1
}
MISSING=0
need terraform "Install Terraform >= 1.6: https://developer.hashicorp.com/terraform/install"
need gcloud "Install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install"
if [ "$PLAN_ONLY" -eq 0 ] && [ "$SKIP_BUILD" -eq 0 ]; then
  need docker "Install Docker (https://docs.docker.com/engine/install/) or pass --skip-build with images already pushed"
fi
if ! command -v jq >/dev/null 2>&1 && ! command -v python3 >/dev/null 2>&1; then
  echo "deploy.sh: 'jq' or 'python3' is required to read terraform outputs" >&2
  MISSING=1
fi
[ "$MISSING" -eq 0 ] || exit 1
if [ "$PLAN_ONLY" -eq 0 ] && [ "$SKIP_BUILD" -eq 0 ]; then
  docker info >/dev/null 2>&1 || die "no Docker engine is reachable (docker info failed)"
fi

# --- image tag ---------------------------------------------------------------------------
if [ -z "$TAG" ]; then
  TAG="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null)" || die "not a git checkout: pass --tag"
  if [ -n "$(git -C "$ROOT" status --porcelain 2>/dev/null)" ]; then
    TAG="$TAG-dirty-$(date -u +%Y%m%d%H%M%S)"
  fi
fi
[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] && [ "$TAG" != latest ] || die "invalid image tag '$TAG'"

TF_VARS=(-var "image_tag=$TAG")
if [ "$PROJECT_FLAG" -eq 1 ] || { [ -n "$PROJECT" ] && ! grep -qs '^project_id' "$DIR"/*.tfvars; }; then
  [ -n "$PROJECT" ] && TF_VARS+=(-var "project_id=$PROJECT")
fi
[ -z "$REGION" ] || TF_VARS+=(-var "region=$REGION")
TF_VARS+=("${VAR_FILES[@]+"${VAR_FILES[@]}"}")

tf() { terraform -chdir="$DIR" "$@"; }

json_get() { # reads a JSON map of maps on stdin, prints every inner value on its own line
  if command -v jq >/dev/null 2>&1; then
    jq -r 'to_entries[] | .value | to_entries[] | .value'
  else
    python3 -c 'import json,sys; [print(v) for m in json.load(sys.stdin).values() for v in m.values()]'
  fi
}

echo "==> terraform init ($DIR)"
tf init -input=false

if [ "$PLAN_ONLY" -eq 1 ]; then
  echo "==> terraform plan (image_tag=$TAG)"
  tf plan -input=false "${TF_VARS[@]}" -var deploy_services=true
  exit 0
fi

echo "==> phase 1: everything but the services (deploy_services=false)"
tf apply -input=false "${AUTO_APPROVE[@]+"${AUTO_APPROVE[@]}"}" "${TF_VARS[@]}" -var deploy_services=false

PROJECT_ID="$(tf output -raw project_id 2>/dev/null || true)"
[ -n "$PROJECT_ID" ] || PROJECT_ID="$PROJECT"
[ -n "$PROJECT_ID" ] || die "cannot tell the project: pass --project"

echo "==> checking that every secret has a version"
MISSING_SECRETS=()
while IFS= read -r secret; do
  [ -n "$secret" ] || continue
  if [ -z "$(gcloud secrets versions list "$secret" --project "$PROJECT_ID" --filter='state=ENABLED' --limit=1 --format='value(name)' 2>/dev/null)" ]; then
    MISSING_SECRETS+=("$secret")
  fi
done < <(tf output -json secret_ids | json_get)
if [ "${#MISSING_SECRETS[@]}" -gt 0 ]; then
  echo "deploy.sh: these secrets have no enabled version yet; add them, then run this script again:" >&2
  for secret in "${MISSING_SECRETS[@]}"; do
    echo "  printf %s \"\$VALUE\" | gcloud secrets versions add $secret --project $PROJECT_ID --data-file=-" >&2
  done
  exit 3
fi

REGISTRY="$(tf output -raw artifact_registry_url)"
if [ "$SKIP_BUILD" -eq 0 ]; then
  echo "==> building and pushing images to $REGISTRY (tag $TAG)"
  gcloud auth configure-docker "${REGISTRY%%/*}" --quiet
  for fn in "${FUNCTIONS[@]}"; do
    image="$REGISTRY/bacca-$fn:$TAG"
    if gcloud artifacts docker images describe "$image" >/dev/null 2>&1; then
      echo "$image already exists (tags are immutable); not rebuilding"
      continue
    fi
    docker build -f "$ROOT/Dockerfile" --target "$fn" -t "$image" "$ROOT"
    docker push "$image"
  done
else
  for fn in "${FUNCTIONS[@]}"; do
    gcloud artifacts docker images describe "$REGISTRY/bacca-$fn:$TAG" >/dev/null 2>&1 \
      || die "--skip-build: $REGISTRY/bacca-$fn:$TAG does not exist"
  done
fi

echo "==> phase 2: services, subscriptions and scheduler jobs (image_tag=$TAG)"
tf apply -input=false "${AUTO_APPROVE[@]+"${AUTO_APPROVE[@]}"}" "${TF_VARS[@]}" -var deploy_services=true
echo "==> deployed $TAG"
