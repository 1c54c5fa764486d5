#!/usr/bin/env bash
# Issue 12, items 1 and 2: what unbounded answers and inputs cost qtool now (release build).
# The issue's "before" figures are in its text; this prints the "after" ones: exit code, wall
# seconds and peak RSS (/usr/bin/time) of
#  1. `qrs app ls` (a streamed table) and `qrs app get` (a document read whole) against a server
#     whose 200 JSON answer never ends (a tiny Python server on loopback, plain HTTP), with the
#     default --max-response-size (256MiB). Before: 11 GB at the timeout.
#  2. `jwt sign --key /dev/zero` and `jwt decode -` fed an endless pipe. Before: 10 GB, no end.
#  3. `context ls` with a 35 MB contexts.toml (4 MiB is the limit of qtool's own files).
#     Before: 1 GB and 6.6 s.
# Usage: bench/hardening.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
[ -x /usr/bin/time ] || { echo "bench/hardening.sh: /usr/bin/time (GNU time) is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench/hardening.sh: python3 is required" >&2; exit 1; }
export QTOOL_CONFIG_DIR="$work/config"

# An HTTP server answering every request with 200 and a JSON list that never ends.
cat > "$work/endless.py" <<'EOF'
import http.server, sys
ITEM = b'{"id":"00000000-0000-0000-0000-000000000001","name":"again"},' * 1000
class Endless(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            self.wfile.write(b"%x\r\n[\r\n" % 1)
            chunk = b"%x\r\n%s\r\n" % (len(ITEM), ITEM)
            while True:
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
print(server.server_address[1], flush=True)
server.serve_forever()
EOF
python3 "$work/endless.py" > "$work/port" &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")/jwt"

# measure LABEL CMD...: one line with the exit code, wall seconds and peak RSS.
measure() {
  local label="$1"
  shift
  set +e
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" > /dev/null 2> "$work/stderr"
  local code=$?
  set -e
  # GNU time puts "Command exited with non-zero status N" first: the figures are the last line.
  read -r secs rss < <(tail -n 1 "$work/time")
  printf '%-36s exit %-3s %6.2f s  peak RSS %7.1f MiB  %s\n' "$label" "$code" "$secs" \
    "$(awk -v kb="$rss" 'BEGIN { print kb / 1024 }')" "$(grep -m1 '^error:' "$work/stderr" | cut -c1-100)"
}

echo "== 1. an endless 200 JSON answer (default --max-response-size 256MiB)"
measure "qrs app ls (table)" env QTOOL_API_KEY=t "$bin" --server "$url" qrs app ls
measure "qrs app get x (document)" env QTOOL_API_KEY=t "$bin" --server "$url" qrs app get x

echo "== 2. endless inputs"
measure "jwt sign --key /dev/zero" "$bin" jwt sign --key /dev/zero --userid u --userdirectory d
measure "jwt decode - < endless pipe" sh -c "yes | \"$bin\" jwt decode -"

echo "== 3. a 35 MB contexts.toml"
mkdir -p "$QTOOL_CONFIG_DIR"
python3 - "$QTOOL_CONFIG_DIR/contexts.toml" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    i = 0
    while f.tell() < 35 * 1000 * 1000:
        f.write(f'[contexts.c{i}]\nserver = "https://qlik{i}.example.com/jwt"\nserver-type = "windows"\nauth = "bearer"\n\n')
        i += 1
EOF
chmod 600 "$QTOOL_CONFIG_DIR/contexts.toml"
measure "context ls (35 MB contexts.toml)" "$bin" context ls
