# Sourced by the benchmarks, from the repository root: builds the release binary ($bin), makes a
# scratch folder ($work), and on exit stops the sandbox in $sandbox_pid (if any) and removes $work.
cargo build --release --quiet
bin="$PWD/target/release/qtool"
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
