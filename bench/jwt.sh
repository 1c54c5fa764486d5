#!/usr/bin/env bash
# Benchmark qtool's JWT toolkit against the tools the Qlik tutorial uses:
#   1. `openssl genrsa 4096`        vs `qtool jwt keygen --bits 4096`   (median of KEYGEN_RUNS each)
#   2. `node token.js` (Token.js)    vs `qtool jwt sign` (same key/claims) (median of SIGN_RUNS each)
# Runs are interleaved (A, B, A, B, ...) so load from other processes hits both sides alike;
# whole-process wall time is measured with a small Python loop (no shell in between).
# Targets: keygen median <= 0.5x openssl's; sign median <= 0.1x node's and < 15 ms.
#
# Usage: bench/jwt.sh            (KEYGEN_RUNS=31 SIGN_RUNS=50 by default; 4096-bit key generation time varies a lot)
#
# BENCH_NO_JITTER=1 also builds a variant with AWS_LC_SYS_NO_JITTER_ENTROPY=1 (in
# target/bench-nojitter, so the normal build is not disturbed) and measures it alongside: aws-lc
# seeds its DRBG from CPU jitter entropy (~20-30 ms of CPU) the first time a process needs random
# bytes, which RSA signing does for blinding; the variant seeds from the OS (getrandom) only.
# The targets are checked against the as-shipped build.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
KEYGEN_RUNS="${KEYGEN_RUNS:-31}"
SIGN_RUNS="${SIGN_RUNS:-50}"
NODE_PACKAGE="jsonwebtoken@9.0.3"   # same pin as the interop tests
NODE_DIR="$ROOT/target/interop/node-$NODE_PACKAGE"

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench/jwt.sh: $1 is required ($2)" >&2; exit 1; }; }
need cargo "Rust toolchain"
need openssl "apt-get install -y openssl"
need node "apt-get install -y nodejs"
need npm "apt-get install -y npm"
need python3 "apt-get install -y python3"

echo "== building qtool (release)" >&2
cargo build --release --quiet --bin qtool --manifest-path "$ROOT/Cargo.toml"
QTOOL="$ROOT/target/release/qtool"
QTOOL_NOJITTER=""
if [ "${BENCH_NO_JITTER:-0}" = "1" ]; then
  echo "== building the no-jitter variant (release, target/bench-nojitter)" >&2
  AWS_LC_SYS_NO_JITTER_ENTROPY=1 CARGO_TARGET_DIR="$ROOT/target/bench-nojitter" \
    cargo build --release --quiet --bin qtool --manifest-path "$ROOT/Cargo.toml"
  QTOOL_NOJITTER="$ROOT/target/bench-nojitter/release/qtool"
fi

if ! NODE_PATH="$NODE_DIR/node_modules" node -e "require('jsonwebtoken')" 2>/dev/null; then
  echo "== installing jsonwebtoken (npm) into $NODE_DIR" >&2
  npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" "$NODE_PACKAGE" >&2
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# One key for the signing comparison, made the tutorial's way.
openssl genrsa -out "$WORK/privatekey.pem" 4096 2>/dev/null

export QTOOL QTOOL_NOJITTER WORK NODE_DIR KEYGEN_RUNS SIGN_RUNS
export TOKEN_JS="$ROOT/bench/jwt/token.js"
python3 - <<'PY'
import os, statistics, subprocess, sys, time

qtool, work = os.environ["QTOOL"], os.environ["WORK"]
node_env = dict(os.environ, NODE_PATH=os.path.join(os.environ["NODE_DIR"], "node_modules"))
key = os.path.join(work, "privatekey.pem")

def timed(cmd, env=None):
    start = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({out.returncode}): {out.stderr.decode()}")
    return elapsed, out.stdout

def interleaved(label, contenders, runs, warmup=0):
    """Run each contender once per round, round after round; return the medians."""
    for _ in range(warmup):
        for _, cmd, env in contenders:
            timed(cmd, env)
    times = [[] for _ in contenders]
    for _ in range(runs):
        for i, (_, cmd, env) in enumerate(contenders):
            times[i].append(timed(cmd, env)[0])
    medians = [statistics.median(t) for t in times]
    print(f"\n{label} ({runs} interleaved runs each)")
    for i, ((name, _, _), t, m) in enumerate(zip(contenders, times, medians)):
        ratio = "" if i == 0 else f"   {m/medians[0]:.3f}x {contenders[0][0]}"
        print(f"  {name:<36} median {m*1000:8.1f} ms   min {min(t)*1000:8.1f}   max {max(t)*1000:8.1f}{ratio}")
    return medians

seed = ["--userid", "harry", "--userdirectory", "qsefw", "--name", "Hardcore Harry",
        "--email", "harry@example.com", "--group", "Adminstrators", "--group", "Sales",
        "--group", "Marketing", "--audience", "112adams", "--expires-in", "365d"]

# Same claims from both: compare the decoded claim names and values (iat may differ by a second).
_, node_token = timed(["node", os.environ["TOKEN_JS"], key], node_env)
_, our_token = timed([qtool, "jwt", "sign", "--key", key] + seed)
import base64, json
def claims(tok):
    part = tok.decode().strip().split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
cn, cq = claims(node_token), claims(our_token)
assert list(cn) == list(cq), (list(cn), list(cq))
for k in cn:
    if k not in ("iat", "exp"):
        assert cn[k] == cq[k], k

nojitter = os.environ.get("QTOOL_NOJITTER")
def variants(name, args):
    out = [(name, [qtool] + args, None)]
    if nojitter:
        out.append((name + " [no-jitter]", [nojitter] + args, None))
    return out

kg = interleaved(
    "RSA 4096 key generation",
    [("openssl genrsa 4096", ["openssl", "genrsa", "-out", os.path.join(work, "o.pem"), "4096"], None)]
    + variants("qtool jwt keygen --bits 4096",
               ["jwt", "keygen", "--bits", "4096", "--force", "--out", os.path.join(work, "q.pem")]),
    int(os.environ["KEYGEN_RUNS"]))
sg = interleaved(
    "Token.js-equivalent RS256 token, 4096-bit key, whole process",
    [("node token.js", ["node", os.environ["TOKEN_JS"], key], node_env)]
    + variants("qtool jwt sign", ["jwt", "sign", "--key", key] + seed),
    int(os.environ["SIGN_RUNS"]), warmup=3)
kg_o, kg_q, sg_n, sg_q = kg[0], kg[1], sg[0], sg[1]

ok = True
def check(what, good):
    global ok
    ok &= good
    print(f"  [{'PASS' if good else 'MISS'}] {what}")
print("\nTargets")
check(f"keygen median {kg_q/kg_o:.2f}x openssl's (<= 0.5x)", kg_q <= 0.5 * kg_o)
check(f"sign median {sg_q/sg_n:.3f}x node's (<= 0.1x)", sg_q <= 0.1 * sg_n)
check(f"sign median {sg_q*1000:.1f} ms (< 15 ms)", sg_q < 0.015)
if nojitter:
    print("\nFor information: the no-jitter variant (AWS_LC_SYS_NO_JITTER_ENTROPY=1 build)")
    print(f"  keygen {kg[2]/kg_o:.2f}x openssl's; sign {sg[2]/sg_n:.3f}x node's, {sg[2]*1000:.1f} ms")
sys.exit(0 if ok else 1)
PY
