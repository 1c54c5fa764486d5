#!/usr/bin/env python3
"""Fail when Cargo.lock pins a crate version that crates.io has yanked.

The RustSec advisory database lives on GitHub, which CI cannot reach, so `cargo audit` and
`cargo deny check advisories` cannot run here; crates.io's sparse index can be reached, and a
yanked version (often yanked for a security or soundness bug) is the part of that check we can do.
Usage: python3 .ci/yanked.py [Cargo.lock ...]
"""
import concurrent.futures
import json
import sys
import tomllib
import urllib.request

INDEX = "https://index.crates.io"
CRATES_IO = "registry+https://github.com/rust-lang/crates.io-index"


def index_path(name: str) -> str:
    n = name.lower()
    if len(n) <= 2:
        return f"{len(n)}/{n}"
    if len(n) == 3:
        return f"3/{n[0]}/{n}"
    return f"{n[:2]}/{n[2:4]}/{n}"


def yanked_versions(name: str) -> set[str]:
    req = urllib.request.Request(f"{INDEX}/{index_path(name)}", headers={"User-Agent": "qtool-ci"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        lines = resp.read().decode().splitlines()
    return {e["vers"] for e in map(json.loads, filter(None, lines)) if e.get("yanked")}


def main() -> int:
    locks = sys.argv[1:] or ["Cargo.lock"]
    pins = set()
    for lock in locks:
        with open(lock, "rb") as f:
            for pkg in tomllib.load(f).get("package", []):
                if pkg.get("source") == CRATES_IO:
                    pins.add((pkg["name"], pkg["version"]))
    names = sorted({n for n, _ in pins})
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            yanked = dict(zip(names, pool.map(yanked_versions, names)))
    except (OSError, ValueError) as e:  # URLError is an OSError; bad index JSON a ValueError
        print(f"yanked check: cannot read the crates.io index ({INDEX}): {e}; check the network")
        return 2
    bad = sorted((n, v) for n, v in pins if v in yanked[n])
    for n, v in bad:
        print(f"yanked: {n} {v} (cargo update -p {n} --precise <a newer version>)")
    print(f"checked {len(pins)} crates.io packages in {', '.join(locks)}: {len(bad)} yanked")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
