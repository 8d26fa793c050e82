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
# Phases: (0) terraform plan; (1) if the plan creates secrets or the registry, apply only
# those (-target; Terraform adds their keys and grants); (2) stop if a secret has no version
# yet, printing the `gcloud secrets versions add` commands (values never pass through
# Terraform); (3) docker build -f Dockerfile --target <function> and push to the registry,
# tag TAG; (4) terraform apply of everything with image_tag=TAG. Re-running is safe: nothing
# is ever applied with services switched off.
#
# The root module needs a variable image_tag (and project_id/region if --project/--region
# are given), as in terraform/examples/*.
#
# Needs: terraform (>= 1.6), gcloud (authenticated: gcloud auth login and
# gcloud auth application-default login), python3, docker (unless --skip-build or --plan).
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
need python3 "Install Python 3 (it reads the terraform plan): https://www.python.org/downloads/"
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

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "==> terraform init ($DIR)"
tf init -input=false

echo "==> terraform plan (image_tag=$TAG)"
tf plan -input=false -out="$WORK/tfplan" "${TF_VARS[@]}"
[ "$PLAN_ONLY" -eq 0 ] || exit 0
tf show -json "$WORK/tfplan" >"$WORK/plan.json"

# From the plan: resources to create before the images and services can exist (secrets and
# the registry, with their keys and grants as dependencies), every secret, the registry URL.
python3 - "$WORK/plan.json" >"$WORK/facts" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
for rc in plan.get("resource_changes", []):
    after = (rc.get("change") or {}).get("after") or {}
    actions = (rc.get("change") or {}).get("actions") or []
    if rc.get("type") == "google_secret_manager_secret" and actions != ["delete"]:
        print("secret", after.get("project", ""), after.get("secret_id", ""))
    if rc.get("type") in ("google_secret_manager_secret", "google_artifact_registry_repository") and "create" in actions:
        print("target", rc["address"])
    if rc.get("type") == "google_artifact_registry_repository" and after.get("format") == "DOCKER":
        print("registry", f'{after["location"]}-docker.pkg.dev/{after["project"]}/{after["repository_id"]}')
PY

TARGETS=()
while read -r kind value _; do
  if [ "$kind" = target ]; then TARGETS+=("-target=$value"); fi
done <"$WORK/facts"
if [ "${#TARGETS[@]}" -gt 0 ]; then
  echo "==> phase 1: secrets and registry first (${#TARGETS[@]} resources and their dependencies)"
  tf apply -input=false "${AUTO_APPROVE[@]+"${AUTO_APPROVE[@]}"}" "${TF_VARS[@]}" "${TARGETS[@]}"
fi

echo "==> checking that every secret has a version"
MISSING_SECRETS=()
while read -r kind project secret; do
  [ "$kind" = secret ] || continue
  if [ -z "$(gcloud secrets versions list "$secret" --project "$project" --filter='state=ENABLED' --limit=1 --format='value(name)' 2>/dev/null)" ]; then
    MISSING_SECRETS+=("$project $secret")
  fi
done <"$WORK/facts"
if [ "${#MISSING_SECRETS[@]}" -gt 0 ]; then
  echo "deploy.sh: these secrets have no enabled version yet; add them, then run this script again:" >&2
  for entry in "${MISSING_SECRETS[@]}"; do
    echo "  printf %s \"\$VALUE\" | gcloud secrets versions add ${entry#* } --project ${entry%% *} --data-file=-" >&2
  done
  exit 3
fi

REGISTRY="$(awk '$1 == "registry" { print $2; exit }' "$WORK/facts")"
[ -n "$REGISTRY" ] || REGISTRY="$(tf output -raw artifact_registry_url 2>/dev/null || true)"
[ -n "$REGISTRY" ] || die "the plan has no Docker Artifact Registry repository and the root module no artifact_registry_url output"
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

echo "==> phase 2: everything (image_tag=$TAG)"
tf apply -input=false "${AUTO_APPROVE[@]+"${AUTO_APPROVE[@]}"}" "${TF_VARS[@]}"
echo "==> deployed $TAG"
