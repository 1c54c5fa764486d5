#!/usr/bin/env bash
# The sandbox under abuse (issue 12, items 3 and 15), release build, loopback only, bounded in
# time. Every scenario runs against the default limits:
#  1. CONNECTIONS (20,000) TLS connections that complete the handshake and say nothing, held for
#     40 s, while a normal client (curl GET /qrs/about through the JWT proxy) probes every 0.5 s:
#     probes answered, their median and worst latency against the same probes without the
#     attack (ratio), the most sockets the sandbox held, what the attackers saw.
#  2. BODIES (40) concurrent 60 MB JSON bodies (POST /qrs/stream): the answers and the sandbox's
#     peak memory (the issue saw 4.9 GB).
#  3. What the write-ahead journal costs: wrk, 10 s, 16 connections, reads (GET /qrs/about) and
#     writes (POST /qrs/tag, one fsync each, shared by concurrent writes): requests/s.
# Usage: bench/sandbox_abuse.sh [CONNECTIONS] [BODIES]
#   QTOOL_BIN=path         benchmark that binary instead of building target/release/qtool
#   QTOOL_BIN_BEFORE=path  also run every scenario against that binary (a build without the
#                          hardening, e.g. of an older commit) and print the ratios
# Needs python3 (the attackers), wrk and curl (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
connections="${1:-20000}"
bodies="${2:-40}"
# shellcheck source=bench/lib.sh
source bench/lib.sh
need wrk wrk
need curl curl
before="${QTOOL_BIN_BEFORE:+$(realpath "$QTOOL_BIN_BEFORE")}"

start_sandbox() { # $1 = binary, $2 = state dir
  "$1" sandbox --state-dir "$2" --seed apps=20,tasks=2 >/dev/null 2>"$2.log" &
  sandbox_pid=$!
  for _ in $(seq 1 600); do [ -s "$2/sandbox.json" ] && break; sleep 0.05; done
  read -r proxy jwt ca token < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); q=d["qseow"]; print(q["proxy_url"], q["jwt_url"], d["ca_cert"], open(q["jwt"]["token_file"]).read().strip())' "$2/sandbox.json")
  port="${proxy##*:}"
}
xrf=abcdefghijklmnop
probe() { # prints "CODE SECONDS"
  curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 10 --cacert "$ca" \
    -H "Authorization: Bearer $token" -H "X-Qlik-Xrfkey: $xrf" "$jwt/qrs/about?xrfkey=$xrf" || echo "000 10"
}
sockets() { { find "/proc/$1/fd" -lname 'socket:*' 2>/dev/null || true; } | wc -l; }
peak_mib() { awk '/VmHWM/ {print int($2/1024)}' "/proc/$1/status" 2>/dev/null || echo "?"; }
summary() { # stdin: "CODE SECONDS" lines -> "ok/total median max"
  python3 -c '
import statistics, sys
rows = [l.split() for l in sys.stdin if l.strip()]
ok = [float(t) for c, t in rows if c == "200"]
med = statistics.median(ok) if ok else float("nan")
worst = max(ok) if ok else float("nan")
print(f"{len(ok)}/{len(rows)} {med:.4f} {worst:.4f}")'
}

silent_connections() { # $1 = label, $2 = binary
  local dir="$work/s1-$1" half=$((connections / 2)) max_sockets=0 alive=yes
  start_sandbox "$2" "$dir"
  for _ in $(seq 1 20); do probe; done >"$work/base-$1"
  python3 bench/abuse/silent_tls.py "$port" "$ca" "$half" 40 >"$work/attack1-$1" &
  local a1=$!
  python3 bench/abuse/silent_tls.py "$port" "$ca" "$((connections - half))" 40 >"$work/attack2-$1" &
  local a2=$!
  sleep 5
  : >"$work/attacked-$1"
  for _ in $(seq 1 40); do
    probe >>"$work/attacked-$1"
    s=$(sockets "$sandbox_pid"); [ "$s" -gt "$max_sockets" ] && max_sockets=$s
    sleep 0.5
  done
  wait "$a1" "$a2" || true
  kill -0 "$sandbox_pid" 2>/dev/null || alive=no
  read -r base_ok base_med base_max < <(summary <"$work/base-$1")
  read -r att_ok att_med att_max < <(summary <"$work/attacked-$1")
  echo "[$1] $connections silent TLS connections for 40 s (default limits)"
  echo "[$1]   attackers: $(cat "$work/attack1-$1") $(cat "$work/attack2-$1")"
  echo "[$1]   probes without attack: $base_ok answered, median ${base_med}s, max ${base_max}s"
  echo "[$1]   probes under attack:   $att_ok answered, median ${att_med}s, max ${att_max}s"
  echo "[$1]   median latency ratio (attack / none): $(python3 -c "print(f'{$att_med / $base_med:.1f}')" 2>/dev/null || echo n/a)"
  echo "[$1]   most sockets held by the sandbox: $max_sockets; still running: $alive; peak RSS $(peak_mib "$sandbox_pid") MiB"
  stop_sandbox
}

big_bodies() { # $1 = label, $2 = binary
  local dir="$work/s2-$1"
  [ -f "$work/big.json" ] || python3 -c '
import sys
n = 60_000_000
head = "{\"name\":\"big body\",\"description\":\""
sys.stdout.write(head + "x" * (n - len(head) - 2) + "\"}")' >"$work/big.json"
  start_sandbox "$2" "$dir"
  local before_mib; before_mib=$(peak_mib "$sandbox_pid")
  for _ in $(seq 1 "$bodies"); do
    curl -s -o /dev/null -w '%{http_code}\n' --max-time 120 --http1.1 --cacert "$ca" \
      -H "Authorization: Bearer $token" -H "X-Qlik-Xrfkey: $xrf" -H 'Content-Type: application/json' \
      --data-binary @"$work/big.json" "$jwt/qrs/stream?xrfkey=$xrf" &
  done >"$work/codes-$1"
  wait $(jobs -p | grep -v "^$sandbox_pid\$") 2>/dev/null || true
  echo "[$1] $bodies concurrent 60 MB JSON bodies (default in-flight budget)"
  echo "[$1]   answers: $(sort "$work/codes-$1" | uniq -c | awk '{printf "%s x %s  ", $1, $2}')"
  echo "[$1]   sandbox peak RSS: $(peak_mib "$sandbox_pid") MiB (idle before: ${before_mib} MiB)"
  stop_sandbox
}

journal_cost() { # $1 = label, $2 = binary
  local dir="$work/s3-$1"
  start_sandbox "$2" "$dir"
  cat >"$work/write.lua" <<LUA
counter = 0
request = function()
  counter = counter + 1
  local body = '{"name":"bench tag ' .. counter .. ' ' .. math.random(1000000000) .. '"}'
  return wrk.format("POST", "/jwt/qrs/tag?xrfkey=$xrf", {
    ["Authorization"] = "Bearer $token", ["X-Qlik-Xrfkey"] = "$xrf",
    ["Content-Type"] = "application/json" }, body)
end
LUA
  local reads writes
  reads=$(wrk -t2 -c16 -d10s -H "Authorization: Bearer $token" -H "X-Qlik-Xrfkey: $xrf" "$jwt/qrs/about?xrfkey=$xrf" | awk '/Requests\/sec/ {print $2}')
  writes=$(wrk -t2 -c16 -d10s -s "$work/write.lua" "$proxy" | awk '/Requests\/sec/ {print $2}')
  echo "[$1] wrk 16 connections, 10 s: reads ${reads} req/s, writes ${writes} req/s"
  eval "reads_$1=$reads writes_$1=$writes"
  stop_sandbox
}

for scenario in silent_connections big_bodies journal_cost; do
  echo "== $scenario"
  "$scenario" after "$bin"
  if [ -n "$before" ]; then "$scenario" before "$before"; fi
done
if [ -n "$before" ]; then
  echo "== journal cost: reads after/before $(python3 -c "print(f'{$reads_after / $reads_before:.2f}')"), writes after/before $(python3 -c "print(f'{$writes_after / $writes_before:.2f}')")"
fi
