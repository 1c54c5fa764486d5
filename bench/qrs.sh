#!/usr/bin/env bash
# Benchmark: `qtool qrs` against the sandbox, release build.
#  1. `qtool qrs app ls --json` with 50,000 apps (whole process, output to /dev/null) vs curl
#     fetching the same URL with the same headers (Bearer token, Xrfkey); runs interleaved,
#     medians and ratio (target <= 1.3x).
#  2. `qtool qrs app ls` as a table of the same 50,000 apps vs `--json` (issue 12: within 2x of
#     JSON's time, under 64 MiB peak RSS): runs interleaved, medians and ratio, then peak RSS of
#     each (/usr/bin/time -v).
#  3. Peak RSS (/usr/bin/time -v) of uploading and exporting a 1 GiB app (target < 64 MiB).
# Usage: bench/qrs.sh [RUNS] [--no-upload]   (default 10 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
upload="${2:-}"
# shellcheck source=bench/lib.sh
source bench/lib.sh
export QTOOL_CONFIG_DIR="$work/config"
state="$work/state"

"$bin" sandbox --state-dir "$state" --seed apps=50000,tasks=3 >/dev/null 2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 1 600); do [ -s "$state/sandbox.json" ] && break; sleep 0.1; done
[ -s "$state/sandbox.json" ] || { echo "sandbox did not start"; cat "$work/sandbox.log"; exit 1; }
field() { python3 -c "import json,sys; d=json.load(open('$state/sandbox.json')); print(eval('d' + sys.argv[1]))" "$1"; }
jwt_url="$(field "['qseow']['jwt_url']")"
ca="$(field "['ca_cert']")"
token_file="$(field "['qseow']['jwt']['token_file']")"
token="$(tr -d '\n' < "$token_file")"
"$bin" context create bench --server "$jwt_url" --server-type windows --ca-cert "$ca" --api-key-stdin < "$token_file" 2>/dev/null
"$bin" context use bench 2>/dev/null
echo "apps: $("$bin" qrs app count)"

xrf=abcdefghijklmnop
printf 'header = "Authorization: Bearer %s"\nheader = "X-Qlik-Xrfkey: %s"\n' "$token" "$xrf" > "$work/curl.cfg"
echo
echo "== app ls --json, 50,000 apps (ratio = qtool / curl)"
python3 bench/timeit.py --runs "$runs" --warmup 1 \
  "curl=curl -sS --fail --cacert $ca -K $work/curl.cfg -o /dev/null $jwt_url/qrs/app?xrfkey=$xrf" \
  "qtool qrs app ls --json=$bin qrs app ls --json"
bytes="$(curl -sS --fail --cacert "$ca" -K "$work/curl.cfg" "$jwt_url/qrs/app?xrfkey=$xrf" | wc -c)"
echo "response size: $bytes bytes"

echo
echo "== app ls as a table vs --json, 50,000 apps (ratio = table / json; target <= 2x)"
python3 bench/timeit.py --runs "$runs" --warmup 1 \
  "qtool qrs app ls --json=$bin qrs app ls --json" \
  "qtool qrs app ls (table)=$bin qrs app ls"
rss() { awk -F': ' '/Maximum resident set size/ {printf "%.1f MiB", $2/1024}' "$1"; }
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$1"; }
/usr/bin/time -v "$bin" qrs app ls --json > /dev/null 2> "$work/ls-json.time"
/usr/bin/time -v "$bin" qrs app ls > "$work/table.txt" 2> "$work/ls-table.time"
echo "app ls --json: peak RSS $(rss "$work/ls-json.time") (target for the table: < 64 MiB)"
echo "app ls table:  peak RSS $(rss "$work/ls-table.time"), $(($(wc -l < "$work/table.txt") - 1)) rows"

if [ "$upload" = "--no-upload" ]; then exit 0; fi

echo
echo "== 1 GiB app: upload and export, peak RSS"
head -c 1073741824 /dev/urandom > "$work/big.qvf"
/usr/bin/time -v "$bin" -q qrs app import "$work/big.qvf" --name "bench 1 GiB" > "$work/id" 2> "$work/import.time"
app_id="$(tr -d '\n' < "$work/id")"
rm -f "$work/out.qvf"
/usr/bin/time -v "$bin" -q qrs app export "$app_id" --out "$work/out.qvf" > /dev/null 2> "$work/export.time"
echo "import: peak RSS $(rss "$work/import.time"), wall $(wall "$work/import.time")"
echo "export: peak RSS $(rss "$work/export.time"), wall $(wall "$work/export.time")"
cmp -s "$work/big.qvf" "$work/out.qvf" && echo "export identical to the uploaded file" || { echo "export differs"; exit 1; }
