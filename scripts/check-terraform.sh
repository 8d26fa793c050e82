#!/usr/bin/env bash
# Checks terraform/ without providers or cloud access:
#   1. checkov over terraform/ (zero failed checks; every skip is inline with its reason);
#   2. pytest over terraform/tests/: the invariants checkov does not cover, parsed with
#      python-hcl2, over every module and example, plus a `terraform fmt` approximation;
#   3. `terraform fmt -check -recursive` when a terraform binary is on PATH (it needs no
#      providers).
# Uses the tools in $ROOT/.venv (scripts/test.sh creates it and installs checkov, python-hcl2
# and pytest from scripts/requirements-test.txt).
# Usage: scripts/check-terraform.sh [extra pytest arguments]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

case "${1:-}" in
  -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac

for tool in checkov python; do
  [ -x "$VENV/bin/$tool" ] || {
    echo "check-terraform.sh: $VENV/bin/$tool is missing; run scripts/test.sh (it creates the venv) or pip install -r scripts/requirements-test.txt into $VENV" >&2
    exit 1
  }
done

echo "==> checkov over terraform/"
# --skip-download: no calls to the Prisma Cloud API (no network here, and none needed).
"$VENV/bin/checkov" --directory "$ROOT/terraform" --framework terraform --skip-download \
  --compact --quiet --output cli
echo "==> pytest terraform/tests"
"$VENV/bin/python" -m pytest -q -p no:cacheprovider "$ROOT/terraform/tests" "$@"

if command -v terraform >/dev/null 2>&1; then
  echo "==> terraform fmt -check -recursive terraform/"
  terraform fmt -check -recursive -diff "$ROOT/terraform" 2> >(grep -v -e 'CLI configuration' -e terraformrc -e '^[│╷╵]' >&2 || true)
else
  echo "==> terraform not on PATH: fmt checked by terraform/tests/test_fmt.py only"
fi
echo "terraform checks passed"
