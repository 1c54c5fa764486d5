#!/usr/bin/env bash
# Run every fuzz target for SECONDS each (default 30) and print the executions per target.
# Uses cargo-fuzz on the stable toolchain: RUSTC_BOOTSTRAP lets cargo-fuzz pass its -Z flags, and
# `-s none` skips the sanitizer runtime (a Rust panic still aborts, which libFuzzer reports).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-30}"
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --quiet
export RUSTC_BOOTSTRAP=1
targets=$(cargo fuzz list)
cargo fuzz build -s none
total=0
for target in $targets; do
  mkdir -p "corpus/$target"
  log="$(mktemp)"
  if ! cargo fuzz run -s none "$target" "corpus/$target" -- -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz target $target FAILED"
    exit 1
  fi
  runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' | tail -1)
  echo "fuzz $target: ${runs:-0} executions in ${seconds}s, no crash"
  total=$((total + ${runs:-0}))
  rm -f "$log"
done
echo "fuzz total: $total executions"
