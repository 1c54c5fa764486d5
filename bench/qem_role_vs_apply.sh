#!/usr/bin/env bash
# Benchmark: `qtool qem apply` against the Michelin Ansible role (michelin/qlik.enterprise-manager)
# on one sandbox, with the same definitions: register one Replicate server, import TASKS task
# definitions (each with its two endpoints in `databases[]`), start the first task; then the
# same again (nothing left to change). Between the two tools the server is unregistered, so
# each starts from the same state. Reports wall time, logins and requests for each run, counted
# by the sandbox itself (stats.json), and the ratios role / qtool.
#
# The role's code may not be vendored: QEM_ROLE_DIR must point at a checkout
# (git clone https://github.com/michelin/qlik.enterprise-manager). ansible-core 2.19.14 (and
# its dependencies, pinned) is installed into the venv the conformance test uses
# (target/interop/ansible-...), unless it is there already.
# Usage: QEM_ROLE_DIR=... bench/qem_role_vs_apply.sh [TASKS] [LATENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
tasks="${1:-20}"
latency="${2:-0ms}"
role="${QEM_ROLE_DIR:-}"
if [ -z "$role" ] || [ ! -f "$role/library/qem_task.py" ] || [ ! -f "$role/module_utils/aem_client.py" ]; then
  echo "error: set QEM_ROLE_DIR to a checkout of the Michelin role (git clone https://github.com/michelin/qlik.enterprise-manager)" >&2
  exit 2
fi
role="$(cd "$role" && pwd)"

# The same pins as tests/integration/qem_clients.rs (ANSIBLE_PACKAGES), hence the same venv.
pins=(ansible-core==2.19.14 Jinja2==3.1.6 MarkupSafe==3.0.4 PyYAML==6.0.4 cryptography==50.0.2
      cffi==2.1.1 pycparser==3.12 packaging==26.4 resolvelib==1.2.1)
venv="$PWD/target/interop/ansible-$(IFS=-; echo "${pins[*]}")"
if ! "$venv/bin/python3" -c "import ansible.release as r; assert r.__version__ == '2.19.14'" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "${pins[@]}"
fi

# shellcheck source=bench/lib.sh
source bench/lib.sh

# Definitions, the qtool manifest and the role's variables, from one list of tasks.
mkdir -p "$work/defs"
python3 - "$work" "$tasks" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
server = {"name": "Bench Server", "host": "rep.bench.example.com", "user": "REP\\admin",
          "password": "rep-pass"}
manifest = ['[[servers]]', f'name = "{server["name"]}"', f'host = "{server["host"]}"',
            'port = 3552', f"user = '{server['user']}'", f'password = "{server["password"]}"', '']
role_tasks = []
for i in range(n):
    name = f"task {i:03d}"
    d = {"name": f"{name}__2026-01-01--10-00-00-000000",
         "cmd.replication_definition": {
            "tasks": [{"task": {"name": name, "source_name": f"src {i}", "target_names": [f"tgt {i}"]},
                       "source": {"rep_source": {"source_name": f"src {i}", "database_name": f"src {i}"},
                                  "source_tables": {"name": f"src {i}", "explicit_included_tables": [
                                      {"owner": "SALES", "name": f"T{i}", "validation_sampling_percentage": 0}]}},
                       "targets": [{"rep_target": {"target_name": f"tgt {i}", "target_state": "DISABLED", "database_name": f"tgt {i}"}}],
                       "task_settings": {"target_settings": {"default_schema": "bench"}, "common_settings": {}}}],
            "databases": [
                {"name": f"src {i}", "role": "SOURCE", "is_licensed": True, "type_id": "ORACLE_COMPONENT_TYPE",
                 "db_settings": {"$type": "OracleSettings", "username": "u", "password": "p", "server": "//db:1521/X"}},
                {"name": f"tgt {i}", "role": "TARGET", "is_licensed": True, "type_id": "NULL_TARGET_COMPONENT_TYPE",
                 "db_settings": {"$type": "NulltargetSettings"}}]},
         "_version": {"version": "2023.11.0.159", "version_major": 2023, "version_minor": 11, "version_revision": 159},
         "description": "bench"}
    path = f"{work}/defs/t{i:03d}.json"
    with open(path, "w") as f:
        json.dump(d, f, indent=2)
    manifest += ['[[tasks]]', f'server = "{server["name"]}"', f'name = "{name}"',
                 f'definition = "defs/t{i:03d}.json"'] + (['run = "started"'] if i == 0 else []) + ['']
    role_tasks.append({"name": name, "file": path})
open(f"{work}/qem.toml", "w").write("\n".join(manifest))
json.dump({"server": server["name"], "server_host": server["host"], "server_user": server["user"],
           "server_password": server["password"], "tasks": role_tasks},
          open(f"{work}/role-tasks.json", "w"))
PY

dir="$work/sandbox"
"$bin" sandbox --state-dir "$dir" --latency "$latency" --seed apps=0,tasks=0,qem-tasks=0 >/dev/null 2>"$dir.log" &
sandbox_pid=$!
for _ in $(seq 1 600); do [ -s "$dir/sandbox.json" ] && break; sleep 0.05; done
read -r url user pwfile ca < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); q=d["qem"]; print(q["url"], q["user"], q["password_file"], d["ca_cert"])' "$dir/sandbox.json")
export QTOOL_CONFIG_DIR="$work/config"
"$bin" context create bench --server "$url" --server-type qem --ca-cert "$ca" --user "$user" \
  --password-stdin < "$pwfile" >/dev/null 2>&1
"$bin" context use bench >/dev/null 2>&1
python3 - "$url" "$user" "$pwfile" "$work/role-conn.json" <<'PY'
import json, os, sys
url, user, pwfile, out = sys.argv[1:5]
domain, name = user.split("\\", 1)
fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
with os.fdopen(fd, "w") as f:
    json.dump({"qem_hostname": url.removeprefix("https://"), "qem_domain": domain,
               "qem_username": name, "qem_password": open(pwfile).read().strip()}, f)
PY

# The sandbox rewrites stats.json within half a second of a change: read it once it is stable.
stats() {
  local a b
  b=$(cat "$dir/stats.json" 2>/dev/null || true)
  while :; do
    sleep 1.2
    a=$b
    b=$(cat "$dir/stats.json" 2>/dev/null || true)
    [ "$a" = "$b" ] && [ -n "$b" ] && break
  done
  python3 -c 'import json,sys; q=json.loads(sys.argv[1])["qem"]; print(q["requests"], q["logins"])' "$b"
}
# run LABEL COMMAND...: time it, count what it cost the sandbox; appends a row to $rows.
rows="$work/rows"
run() {
  local label=$1 t0 t1 r0 l0 r1 l1
  shift
  read -r r0 l0 < <(stats)
  t0=$(date +%s.%N)
  "$@" >"$work/out" 2>&1 || { echo "failed: $label" >&2; tail -30 "$work/out" >&2; exit 1; }
  t1=$(date +%s.%N)
  read -r r1 l1 < <(stats)
  echo "$label $(python3 -c "print(f'{$t1 - $t0:.2f}')") $((l1 - l0)) $((r1 - r0))" >>"$rows"
}
role_playbook() (
  # A subshell, not `env`: the venv's path contains `=` (the pins), which env takes for a variable.
  unset ANSIBLE_CONFIG
  export HOME="$work/home" ANSIBLE_LIBRARY="$role/library" ANSIBLE_MODULE_UTILS="$role/module_utils" \
    ANSIBLE_PYTHON_INTERPRETER="$venv/bin/python3" ANSIBLE_LOCAL_TEMP="$work/ansible-tmp" \
    ANSIBLE_HOME="$work/ansible-home" ANSIBLE_NOCOLOR=1 ANSIBLE_RETRY_FILES_ENABLED=False \
    SSL_CERT_FILE="$ca"
  "$venv/bin/python3" "$venv/bin/ansible-playbook" -i localhost, -c local \
    -e "@$work/role-conn.json" -e "@$work/role-tasks.json" bench/qem_role/apply.yml
)
mkdir -p "$work/home"

run "qtool-apply" "$bin" qem apply -f "$work/qem.toml"
run "qtool-apply-again" "$bin" qem apply -f "$work/qem.toml"
check=$("$bin" qem task ls "Bench Server" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$check" = "$tasks" ] || { echo "qtool left $check tasks, not $tasks" >&2; exit 1; }
"$bin" qem server rm "Bench Server" >/dev/null 2>&1
run "role" role_playbook
run "role-again" role_playbook
check=$("$bin" qem task ls "Bench Server" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
[ "$check" = "$tasks" ] || { echo "the role left $check tasks, not $tasks" >&2; exit 1; }
stop_sandbox

python3 - "$rows" "$tasks" "$latency" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    label, wall, logins, requests = line.split()
    rows[label] = (float(wall), int(logins), int(requests))
print(f"tasks: {sys.argv[2]} (server registration, task imports with their endpoints, first task started), latency: {sys.argv[3]} per request")
print(f"{'run':<32}{'wall s':>9}{'logins':>8}{'requests':>10}")
names = {"qtool-apply": "qtool qem apply", "role": "Ansible role",
         "qtool-apply-again": "qtool qem apply, again", "role-again": "Ansible role, again"}
for key in ["qtool-apply", "role", "qtool-apply-again", "role-again"]:
    w, l, r = rows[key]
    print(f"{names[key]:<32}{w:>9.2f}{l:>8}{r:>10}")
def ratio(a, b):
    return f"{a / b:.1f}x" if b else f"{a} vs 0"
for first, second, what in [("role", "qtool-apply", "first run"), ("role-again", "qtool-apply-again", "again")]:
    (w1, l1, r1), (w2, l2, r2) = rows[first], rows[second]
    print(f"ratio role / qtool, {what}: wall {ratio(w1, w2)}, logins {ratio(l1, l2)}, requests {ratio(r1, r2)}")
PY
