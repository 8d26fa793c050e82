#!/usr/bin/env bash
# Supply-chain checks (SCA): cargo-deny (licences, bans, sources, advisories, yanked crates) and
# cargo-audit (RustSec advisories), both installed with `cargo install --locked` if missing.
# Exits non-zero on any finding. Usage: scripts/check-supply-chain.sh
#
# The RustSec advisory database is a git repository on GitHub. When GitHub cannot be reached and
# no local copy exists ($CARGO_HOME/advisory-db for cargo-audit, $CARGO_HOME/advisory-dbs for
# cargo-deny), the advisory checks CANNOT run: the script prints exactly what was not checked and
# why, still checks every locked crate for yanked releases against the crates.io index (through
# cargo's own index cache), and exits 0 unless BACCA_REQUIRE_ADVISORIES=1, which turns the missing
# database into a failure. Nothing is reported as checked that was not.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/bacca/target}"
CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
# Tools build in their own target directory so they never hold the workspace's build lock.
TOOLS_TARGET="${BACCA_TOOLS_TARGET_DIR:-$(dirname "$CARGO_TARGET_DIR")/tools-target}"
CARGO_DENY_VERSION="0.20.2"
CARGO_AUDIT_VERSION="0.22.2"
ADVISORY_URL="https://github.com/rustsec/advisory-db"

failures=()
not_checked=()
step() { printf '\n--> %s\n' "$*"; }

install_tool() { # name version
  if ! command -v "$1" >/dev/null 2>&1; then
    step "installing $1 $2 (cargo install --locked)"
    CARGO_TARGET_DIR="$TOOLS_TARGET" cargo install --locked "$1" --version "$2"
  fi
}
install_tool cargo-deny "$CARGO_DENY_VERSION"
install_tool cargo-audit "$CARGO_AUDIT_VERSION"
echo "cargo-deny: $(cargo deny --version 2>/dev/null)   cargo-audit: $(cargo audit --version 2>/dev/null)"

step "Cargo.lock is committed and current"
if ! git ls-files --error-unmatch Cargo.lock >/dev/null 2>&1; then
  failures+=("Cargo.lock is not tracked by git")
fi
if ! cargo metadata --locked --format-version 1 >/dev/null; then
  failures+=("Cargo.lock is out of date (cargo metadata --locked failed)")
fi

step "cargo deny check licenses bans sources"
if ! cargo deny --locked check --hide-inclusion-graph licenses bans sources; then
  failures+=("cargo-deny: licenses/bans/sources")
fi

step "RustSec advisory database"
db_mode=""
if timeout 15 git ls-remote --quiet "$ADVISORY_URL" HEAD >/dev/null 2>&1; then
  db_mode="fetch"
  echo "reachable: $ADVISORY_URL"
elif [ -d "$CARGO_HOME/advisory-db/.git" ] && compgen -G "$CARGO_HOME/advisory-dbs/*/.git" >/dev/null; then
  db_mode="local"
  echo "GitHub unreachable; using the local copies (no fetch):"
  echo "  cargo-audit: $CARGO_HOME/advisory-db, last commit $(git -C "$CARGO_HOME/advisory-db" log -1 --format=%cs 2>/dev/null || echo unknown)"
  for d in "$CARGO_HOME"/advisory-dbs/*/; do
    echo "  cargo-deny:  $d, last commit $(git -C "$d" log -1 --format=%cs 2>/dev/null || echo unknown)"
  done
else
  echo "GitHub ($ADVISORY_URL) is unreachable from this machine and no local copy of the"
  echo "RustSec advisory database exists; no crates.io or PyPI package ships one."
fi

case "$db_mode" in
  fetch | local)
    deny_flags=()
    audit_flags=()
    if [ "$db_mode" = local ]; then deny_flags=(--disable-fetch); audit_flags=(--no-fetch); fi
    step "cargo deny check advisories (vulnerabilities, unmaintained, unsound, yanked)"
    if ! cargo deny --locked check --hide-inclusion-graph "${deny_flags[@]}" advisories; then
      failures+=("cargo-deny: advisories")
    fi
    step "cargo audit (RustSec vulnerabilities, yanked)"
    if ! cargo audit "${audit_flags[@]}" --deny warnings; then
      failures+=("cargo-audit")
    fi
    ;;
  *)
    not_checked+=("RustSec vulnerabilities (cargo deny check advisories, cargo audit): advisory database unavailable (GitHub unreachable, no local copy)")
    not_checked+=("RustSec unmaintained and unsound notices: same database")
    step "yanked crates (crates.io index through cargo's own client, no advisory database needed)"
    # Refresh cargo's index cache for every locked crate (a dry run writes nothing), then read
    # the yanked flag of each locked version from that cache.
    if ! cargo update --dry-run >/dev/null 2>&1; then
      not_checked+=("yanked crates: the crates.io index could not be refreshed (cargo update --dry-run failed)")
    else
      set +e
      python3 - "$CARGO_HOME" <<'PY'
import json, pathlib, sys, tomllib

cargo_home = pathlib.Path(sys.argv[1])
lock = tomllib.loads(pathlib.Path("Cargo.lock").read_text())
caches = list((cargo_home / "registry" / "index").glob("index.crates.io-*/.cache"))

def entry_path(name: str) -> str:
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"

checked, yanked, unknown = 0, [], []
for pkg in lock.get("package", []):
    if not pkg.get("source", "").startswith("registry+https://github.com/rust-lang/crates.io-index"):
        continue
    name, version = pkg["name"], pkg["version"]
    found = None
    for cache in caches:
        path = cache / entry_path(name)
        if not path.is_file():
            continue
        for chunk in path.read_bytes().split(b"\0"):
            if chunk.startswith(b"{"):
                try:
                    record = json.loads(chunk)
                except ValueError:
                    continue
                if record.get("vers") == version:
                    found = bool(record.get("yanked", False))
        if found is not None:
            break
    if found is None:
        unknown.append(f"{name} {version}")
    else:
        checked += 1
        if found:
            yanked.append(f"{name} {version}")
print(f"{checked} locked crates.io packages checked against the index: {len(yanked)} yanked")
for y in yanked:
    print(f"  YANKED: {y}")
if unknown:
    print(f"  not found in the index cache ({len(unknown)}): {', '.join(unknown)}")
sys.exit(1 if yanked else (3 if unknown else 0))
PY
      rc=$?
      set -e
      case "$rc" in
        0) ;;
        3) not_checked+=("yanked status of some crates: missing from cargo's index cache (listed above)") ;;
        *) failures+=("yanked crates in Cargo.lock") ;;
      esac
    fi
    ;;
esac

step "summary"
if [ "${#not_checked[@]}" -gt 0 ]; then
  echo "NOT CHECKED (and why):"
  for n in "${not_checked[@]}"; do echo "  - $n"; done
fi
if [ "${#failures[@]}" -gt 0 ]; then
  echo "FAILED:"
  for f in "${failures[@]}"; do echo "  - $f"; done
  exit 1
fi
if [ "${#not_checked[@]}" -gt 0 ] && [ "${BACCA_REQUIRE_ADVISORIES:-0}" = 1 ]; then
  echo "BACCA_REQUIRE_ADVISORIES=1: an unchecked advisory scan is a failure"
  exit 1
fi
echo "supply chain: licences, bans, sources and yanked crates clean${not_checked:+ (advisories NOT checked, see above)}"
