#!/usr/bin/env bash
# `qtool app` benchmarks (issue 13), against a release sandbox at --latency 20ms:
#   1. unbuild of an app with 1,000 objects: qtool vs bench/engine/enigma_unbuild.js (enigma.js
#      2.15.0 + ws 8.23.0, Promise.all, writing the same layout), whole processes, interleaved
#      runs, ratio printed. Targets: qtool <= 2 s and <= 0.5x enigma.js.
#   2. build of the unbuilt folder into the same app (nothing changes): target <= 2 s.
#   3. peak RSS of unbuild and of the unchanged build at 1,000 and 5,000 objects (memory flat in
#      the number of objects: the 5,000/1,000 ratio is printed).
# Usage: bench/app.sh [RUNS] [OBJECTS] [MORE_OBJECTS]   (defaults 5, 1000, 5000)
#   LATENCY=0ms measures without latency.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
objects="${2:-1000}"
more_objects="${3:-5000}"
latency="${LATENCY:-20ms}"
for tool in node npm python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "bench/app.sh: $tool is required" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench/app.sh: /usr/bin/time (GNU time) is required for peak RSS" >&2; exit 1; }
source bench/lib.sh
packages=(enigma.js@2.15.0 ws@8.23.0)      # the pins of tests/integration/engine.rs
node_dir="$PWD/target/interop/node-enigma.js@2.15.0-ws@8.23.0"
if ! NODE_PATH="$node_dir/node_modules" node -e "require('enigma.js'); require('ws')" 2>/dev/null; then
  echo "== installing ${packages[*]} (npm) into $node_dir" >&2
  npm install --silent --no-audit --no-fund --prefix "$node_dir" "${packages[@]}" >&2
fi
export QTOOL_CONFIG_DIR="$work/config"

# Start a sandbox with one app of $1 objects; sets $state, $app, $token, $ca.
start_sandbox() {
  stop_sandbox
  state="$work/state-$1"
  "$bin" sandbox --state-dir "$state" --seed "apps=1,tasks=0,objects=$1" --latency "$latency" \
    >/dev/null 2>"$work/sandbox-$1.log" &
  sandbox_pid=$!
  for _ in $(seq 1 1200); do [ -f "$state/sandbox.json" ] && break; sleep 0.05; done
  [ -f "$state/sandbox.json" ] || { echo "sandbox did not start"; cat "$work/sandbox-$1.log"; exit 1; }
  get() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$state/sandbox.json" "$1"; }
  ca="$(get "['ca_cert']")"
  token="$(cat "$(get "['qseow']['jwt']['token_file']")")"
  jwt_url="$(get "['qseow']['jwt_url']")"
  engine="$(get "['qseow']['engine']['jwt_url']")"
  app="$(curl -sS --cacert "$ca" -H "Authorization: Bearer $token" -H "X-Qlik-Xrfkey: abcdefghijklmnop" \
    "$jwt_url/qrs/app?xrfkey=abcdefghijklmnop" | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['id'])")"
  rm -rf "$QTOOL_CONFIG_DIR"
  printf %s "$token" | "$bin" context create bench --server "$jwt_url" --server-type windows \
    --ca-cert "$ca" --api-key-stdin >/dev/null
}

peak_rss_kb() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1; }

start_sandbox "$objects"
echo "== $objects objects, --latency $latency, $runs runs (whole processes, interleaved)"
"$bin" --context bench app unbuild "$app" --dir "$work/folder" >/dev/null
python3 bench/timeit.py --runs "$runs" --warmup 1 \
  "enigma.js unbuild=env NODE_PATH=$node_dir/node_modules node bench/engine/enigma_unbuild.js $engine/app/$app --ca $ca --header 'Authorization: Bearer $token' --out $work/enigma" \
  "qtool app unbuild=$bin --context bench app unbuild $app --dir $work/qtool" \
  "qtool app build (unchanged)=$bin --context bench app build $app --dir $work/folder --detailed-exitcode"
unbuild_rss=$(peak_rss_kb "$bin" --context bench app unbuild "$app" --dir "$work/qtool")
build_rss=$(peak_rss_kb "$bin" --context bench app build "$app" --dir "$work/folder")

start_sandbox "$more_objects"
"$bin" --context bench app unbuild "$app" --dir "$work/folder-more" >/dev/null
unbuild_rss_more=$(peak_rss_kb "$bin" --context bench app unbuild "$app" --dir "$work/qtool-more")
build_rss_more=$(peak_rss_kb "$bin" --context bench app build "$app" --dir "$work/folder-more")
start=$(date +%s%N)
"$bin" --context bench app build "$app" --dir "$work/folder-more" --detailed-exitcode >/dev/null
build_ms_more=$(( ($(date +%s%N) - start) / 1000000 ))
echo "== peak RSS (KiB): unbuild $objects objects $unbuild_rss, $more_objects objects $unbuild_rss_more;" \
  "unchanged build $objects objects $build_rss, $more_objects objects $build_rss_more"
python3 -c "print(f'peak RSS ratio $more_objects/$objects objects: unbuild {$unbuild_rss_more / $unbuild_rss:.2f}x, build {$build_rss_more / $build_rss:.2f}x (flat = close to 1)')"
echo "unchanged build of $more_objects objects: $build_ms_more ms"
