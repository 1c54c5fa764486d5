# Sourced by the benchmarks, from the repository root: builds the release binary ($bin; or takes
# QTOOL_BIN=path, to benchmark another build), makes a scratch folder ($work), and on exit stops
# the sandbox in $sandbox_pid (if any) and removes $work. `need TOOL PACKAGE...` installs the
# Debian packages when TOOL is missing.
if [ -n "${QTOOL_BIN:-}" ]; then
  bin="$(realpath "$QTOOL_BIN")"
else
  cargo build --release --quiet
  bin="$PWD/target/release/qtool"
fi
need() {
  local tool="$1"
  shift
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}
work="$(mktemp -d)"
sandbox_pid=""
stop_sandbox() {
  if [ -n "$sandbox_pid" ]; then
    kill "$sandbox_pid" 2>/dev/null || true
    wait "$sandbox_pid" 2>/dev/null || true
  fi
  sandbox_pid=""
}
cleanup() {
  stop_sandbox
  rm -rf "$work"
}
trap cleanup EXIT
