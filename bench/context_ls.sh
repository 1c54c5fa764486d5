#!/usr/bin/env bash
# Benchmark: `qtool context ls` with 200 contexts, whole process, release build (target < 5 ms).
# Peer: qlik-cli cannot be installed on this network (its binary comes from GitHub releases), so
# the comparison is the shortest scripted equivalent a user would write: Python reading the same
# TOML and printing the names. Usage: bench/context_ls.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-50}"
# shellcheck source=bench/lib.sh
source bench/lib.sh
export QTOOL_CONFIG_DIR="$work/config"
for i in $(seq -w 1 200); do
  printf 'token-%s-abcdefghijklmnop' "$i" | "$bin" context create "ctx-$i" --server "https://qlik$i.example.com/jwt" \
    --server-type windows --api-key-stdin --comment "benchmark context $i" 2>/dev/null
done
"$bin" context use ctx-100 2>/dev/null
echo "contexts: $("$bin" context ls -q | wc -l)"
python3 bench/timeit.py --runs "$runs" \
  "qtool context ls=$bin context ls" \
  "qtool context ls --json=$bin context ls --json" \
  "python3 tomllib listing=python3 -c 'import tomllib,os; d=tomllib.load(open(os.environ[\"QTOOL_CONFIG_DIR\"]+\"/contexts.toml\",\"rb\")); [print(k, v[\"server\"]) for k, v in d[\"contexts\"].items()]'"
