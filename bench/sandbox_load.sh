#!/usr/bin/env bash
# Sandbox load benchmark (issue 4), release build, loopback only, bounded in time.
#  1. 200 concurrent connections for 20 s on /qrs/app/full with 1,000 apps (wrk): requests/s,
#     errors (must be zero), the sandbox's peak memory. Peer: the same wrk run against nginx
#     serving the identical JSON body as a static file over TLS, so the ratio shows what the
#     emulator costs over a plain file server.
#  2. /qrs/app/full with 50,000 apps: time to fetch (curl) and the sandbox's peak memory.
# Usage: bench/sandbox_load.sh [SECONDS] [CONNECTIONS]
#   QTOOL_BIN=path: benchmark that binary instead of building target/release/qtool (before/after).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
conns="${2:-200}"
for tool in wrk curl nginx; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk curl nginx-light >/dev/null
    break
  fi
done
if [ -n "${QTOOL_BIN:-}" ]; then
  bin="$(realpath "$QTOOL_BIN")"
else
  cargo build --release --quiet
  bin="$PWD/target/release/qtool"
fi
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$work"; }
trap cleanup EXIT

start_sandbox() { # $1 = state dir, $2 = seed
  "$bin" sandbox --listen 127.0.0.1:0 --state-dir "$1" --seed "$2" >/dev/null 2>"$1.log" &
  pids+=($!)
  sandbox_pid=$!
  for _ in $(seq 1 2400); do [ -f "$1/sandbox.json" ] && return 0; sleep 0.05; done
  echo "sandbox did not start"; cat "$1.log"; exit 1
}
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval('d'+sys.argv[2]))" "$@"; }
peak_kib() { grep VmHWM "/proc/$1/status" | awk '{print $2}'; }

echo "== 1. wrk: $conns connections, ${seconds}s, /qrs/app/full with 1,000 apps"
start_sandbox "$work/s1" "apps=1000,tasks=10"
url="$(json "$work/s1/sandbox.json" "['qseow']['jwt_url']")/qrs/app/full?xrfkey=abcdefghijklmnop"
token="$(cat "$(json "$work/s1/sandbox.json" "['qseow']['jwt']['token_file']")")"
ca="$(json "$work/s1/sandbox.json" "['ca_cert']")"
curl -sS --cacert "$ca" -H "Authorization: Bearer $token" -H "X-Qlik-Xrfkey: abcdefghijklmnop" "$url" -o "$work/apps.json"
echo "body: $(wc -c <"$work/apps.json") bytes, $(python3 -c "import json;print(len(json.load(open('$work/apps.json'))))") apps"
wrk -t2 -c"$conns" -d"${seconds}s" --latency -H "Authorization: Bearer $token" -H "X-Qlik-Xrfkey: abcdefghijklmnop" "$url" | tee "$work/wrk-sandbox.txt"
echo "sandbox peak RSS: $(( $(peak_kib "$sandbox_pid") / 1024 )) MiB"

echo "== peer: nginx serving the same body as a static file over TLS"
mkdir -p "$work/nginx/html"
chmod 755 "$work" "$work/nginx" "$work/nginx/html"
cp "$work/apps.json" "$work/nginx/html/full"
chmod 644 "$work/nginx/html/full"
port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cat >"$work/nginx/nginx.conf" <<CONF
user root;
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $(json "$work/s1/sandbox.json" "['state_dir']")/server.pem;
    ssl_certificate_key $(json "$work/s1/sandbox.json" "['state_dir']")/server_key.pem;
    root $work/nginx/html;
    default_type application/json;
  }
}
CONF
nginx -c "$work/nginx/nginx.conf"
wrk -t2 -c"$conns" -d"${seconds}s" --latency "https://127.0.0.1:$port/full" | tee "$work/wrk-nginx.txt"
nginx -c "$work/nginx/nginx.conf" -s stop || true
rs() { grep Requests/sec "$1" | awk '{print $2}'; }
errors() { grep -E "Non-2xx|Socket errors" "$1" || echo "errors: none"; }
echo "sandbox: $(rs "$work/wrk-sandbox.txt") req/s; $(errors "$work/wrk-sandbox.txt")"
echo "nginx:   $(rs "$work/wrk-nginx.txt") req/s"
python3 -c "print(f'ratio sandbox/nginx req/s: {float(\"$(rs "$work/wrk-sandbox.txt")\")/float(\"$(rs "$work/wrk-nginx.txt")\"):.3f}')"

echo "== 2. /qrs/app/full with 50,000 apps"
start_sandbox "$work/s2" "apps=50000,tasks=10"
url="$(json "$work/s2/sandbox.json" "['qseow']['jwt_url']")/qrs/app/full?xrfkey=abcdefghijklmnop"
token="$(cat "$(json "$work/s2/sandbox.json" "['qseow']['jwt']['token_file']")")"
ca="$(json "$work/s2/sandbox.json" "['ca_cert']")"
before=$(peak_kib "$sandbox_pid")
for i in 1 2 3; do
  curl -sS --cacert "$ca" -H "Authorization: Bearer $token" -H "X-Qlik-Xrfkey: abcdefghijklmnop" "$url" \
    -o /dev/null -w "fetch $i: %{size_download} bytes in %{time_total} s\n"
done
after=$(peak_kib "$sandbox_pid")
echo "sandbox peak RSS: $((before / 1024)) MiB after seeding, $((after / 1024)) MiB after three full fetches"
