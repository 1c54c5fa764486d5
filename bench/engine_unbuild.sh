#!/usr/bin/env bash
# Engine benchmark (issue 13): reading an app with 1,000 objects through the sandbox's engine at
# --latency 20ms, requests pipelined on one socket.
#   peer: bench/engine/enigma_unbuild.js (enigma.js 2.15.0 + ws 8.23.0, Promise.all), same app,
#         same sandbox, same run;
#   qtool: `qtool app unbuild APP --dir DIR` once that command exists (the ratio is printed then).
# Target (issue 13): qtool <= 2 s and <= 0.5x the enigma.js script.
# Usage: bench/engine_unbuild.sh [RUNS] [OBJECTS]     (5 runs, 1000 objects by default)
#   QTOOL_BIN=path: use that binary instead of building target/release/qtool.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
objects="${2:-1000}"
for tool in node npm python3; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench/engine_unbuild.sh: $tool is required" >&2; exit 1; }
done
if [ -n "${QTOOL_BIN:-}" ]; then
  bin="$(realpath "$QTOOL_BIN")"
else
  cargo build --release --quiet
  bin="$PWD/target/release/qtool"
fi
packages=(enigma.js@2.15.0 ws@8.23.0)      # the pins of tests/integration/engine.rs
node_dir="$PWD/target/interop/node-enigma.js@2.15.0-ws@8.23.0"
if ! NODE_PATH="$node_dir/node_modules" node -e "require('enigma.js'); require('ws')" 2>/dev/null; then
  echo "== installing ${packages[*]} (npm) into $node_dir" >&2
  npm install --silent --no-audit --no-fund --prefix "$node_dir" "${packages[@]}" >&2
fi
work="$(mktemp -d)"
sandbox_pid=""
cleanup() { [ -n "$sandbox_pid" ] && kill -INT "$sandbox_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" sandbox --state-dir "$work/state" --seed "apps=1,tasks=0,objects=$objects" --latency "${LATENCY:-20ms}" \
  >/dev/null 2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 1 1200); do [ -f "$work/state/sandbox.json" ] && break; sleep 0.05; done
[ -f "$work/state/sandbox.json" ] || { echo "sandbox did not start"; cat "$work/sandbox.log"; exit 1; }
get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$work/state/sandbox.json" "$1"; }
ca="$(get "['ca_cert']")"
token="$(cat "$(get "['qseow']['jwt']['token_file']")")"
engine="$(get "['qseow']['engine']['jwt_url']")"
app="$(curl -sS --cacert "$ca" -H "Authorization: Bearer $token" -H "X-Qlik-Xrfkey: abcdefghijklmnop" \
  "$(get "['qseow']['jwt_url']")/qrs/app?xrfkey=abcdefghijklmnop" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "== enigma.js (Promise.all): $objects objects, --latency 20ms, $runs runs"
for i in $(seq 1 "$runs"); do
  NODE_PATH="$node_dir/node_modules" node bench/engine/enigma_unbuild.js "$engine/app/$app" \
    --ca "$ca" --header "Authorization: Bearer $token" --out "$work/enigma-$i" | tee -a "$work/enigma.jsonl"
done
enigma_ms="$(python3 -c "import json,sys; print('\n'.join(str(json.loads(l)['ms']) for l in open(sys.argv[1])))" "$work/enigma.jsonl" | median)"
echo "enigma.js median: ${enigma_ms} ms"

if "$bin" app unbuild --help >/dev/null 2>&1; then
  export QTOOL_CONFIG_DIR="$work/config"
  printf %s "$token" | "$bin" context create bench --server "$(get "['qseow']['jwt_url']")" \
    --server-type windows --ca-cert "$ca" --api-key-stdin >/dev/null
  echo "== qtool app unbuild: $runs runs"
  : >"$work/qtool.txt"
  for i in $(seq 1 "$runs"); do
    start=$(date +%s%N)
    "$bin" --context bench app unbuild "$app" --dir "$work/qtool-$i" >/dev/null
    echo $(( ($(date +%s%N) - start) / 1000000 )) | tee -a "$work/qtool.txt"
  done
  qtool_ms="$(median <"$work/qtool.txt")"
  echo "qtool median: ${qtool_ms} ms (whole process)"
  python3 -c "print(f'ratio qtool/enigma.js: {$qtool_ms / $enigma_ms:.2f} (target <= 0.5; qtool target <= 2000 ms)')"
else
  echo "qtool app unbuild: not available in this build yet (no ratio)"
fi
