#!/usr/bin/env bash
# Benchmark: `qtool qem apply` of 200 task definitions against the sandbox's QEM emulator with
# 20 ms latency per request, release build. Each timed apply runs on a fresh sandbox:
#   1. default concurrency (8)      2. --concurrency 1 (sequential, what the Ansible role does)
#   3. no-change re-apply on the state of run 2 (reads only: list + 200 exports).
# Target: time(default) / time(sequential) <= 0.2.
# Usage: bench/qem_apply.sh [TASKS] [LATENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
tasks="${1:-200}"
latency="${2:-20ms}"
# shellcheck source=bench/lib.sh
source bench/lib.sh

# Definitions and manifest: one server, $tasks tasks with their own endpoints.
mkdir -p "$work/defs"
python3 - "$work" "$tasks" <<'PY'
import json, sys
work, n = sys.argv[1], int(sys.argv[2])
lines = ['[vars]', 'env = "bench"', '',
         '[[servers]]', 'name = "Bench Server"', 'host = "rep.${env}.example.com"', 'port = 3552',
         "user = 'REP\\admin'", 'password = "rep-pass"', '']
for i in range(n):
    name = f"task {i:03d}"
    d = {"name": f"{name}__2026-01-01--10-00-00-000000",
         "cmd.replication_definition": {
            "tasks": [{"task": {"name": name, "source_name": f"src{i}", "target_names": [f"tgt{i}"]},
                       "source": {"rep_source": {"source_name": f"src{i}", "database_name": f"src{i}"},
                                  "source_tables": {"name": f"src{i}", "explicit_included_tables": [
                                      {"owner": "SALES", "name": f"T{i}", "validation_sampling_percentage": 0}]}},
                       "targets": [{"rep_target": {"target_name": f"tgt{i}", "target_state": "DISABLED", "database_name": f"tgt{i}"}}],
                       "task_settings": {"target_settings": {"default_schema": "${env}"}, "common_settings": {}}}],
            "databases": [
                {"name": f"src{i}", "role": "SOURCE", "is_licensed": True, "type_id": "ORACLE_COMPONENT_TYPE",
                 "db_settings": {"$type": "OracleSettings", "username": "u", "password": "p", "server": "//db:1521/X"}},
                {"name": f"tgt{i}", "role": "TARGET", "is_licensed": True, "type_id": "NULL_TARGET_COMPONENT_TYPE",
                 "db_settings": {"$type": "NulltargetSettings"}}]},
         "_version": {"version": "2023.11.0.159", "version_major": 2023, "version_minor": 11, "version_revision": 159},
         "description": "bench"}
    with open(f"{work}/defs/t{i:03d}.json", "w") as f:
        json.dump(d, f, indent=2)
    lines += ['[[tasks]]', 'server = "Bench Server"', f'name = "{name}"', f'definition = "defs/t{i:03d}.json"', '']
open(f"{work}/qem.toml", "w").write("\n".join(lines))
PY

start_sandbox() {
  local dir="$work/sandbox-$1"
  "$bin" sandbox --state-dir "$dir" --latency "$latency" --seed apps=0,tasks=0,qem-tasks=0 >/dev/null 2>"$dir.log" &
  sandbox_pid=$!
  for _ in $(seq 1 600); do [ -s "$dir/sandbox.json" ] && break; sleep 0.05; done
  export QTOOL_CONFIG_DIR="$work/config-$1"
  local url user pwfile ca
  read -r url user pwfile ca < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); q=d["qem"]; print(q["url"], q["user"], q["password_file"], d["ca_cert"])' "$dir/sandbox.json")
  "$bin" context create bench --server "$url" --server-type qem --ca-cert "$ca" --user "$user" \
    --password-stdin < "$pwfile" >/dev/null 2>&1
  "$bin" context use bench >/dev/null 2>&1
}
timed() { # prints seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>"$work/err" || { echo "failed: $*" >&2; tail -5 "$work/err" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 -c "print(f'{$t1 - $t0:.3f}')"
}

start_sandbox parallel
t_par=$(timed "$bin" qem apply -f "$work/qem.toml") || exit 1
stop_sandbox

start_sandbox sequential
t_seq=$(timed "$bin" qem apply -f "$work/qem.toml" --concurrency 1) || exit 1
t_noop=$(timed "$bin" qem apply -f "$work/qem.toml") || exit 1
check=$("$bin" qem apply -f "$work/qem.toml" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["changed"])')
stop_sandbox

ratio=$(python3 -c "print(f'{$t_par / $t_seq:.3f}')")
echo "tasks: $tasks, latency: $latency per request"
echo "apply, default concurrency (8): ${t_par} s"
echo "apply, --concurrency 1:         ${t_seq} s"
echo "ratio (target <= 0.2):          ${ratio}"
echo "no-change re-apply:             ${t_noop} s (changed on a further run: $check)"
