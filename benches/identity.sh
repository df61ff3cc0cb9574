#!/usr/bin/env bash
# Byte-identity of two fusebench binaries over the shipped scenarios: the check behind every
# "trace and report bytes unchanged" of a speed round in benches/README.md. A change that is
# only meant to be faster must leave every run's trace, report and exit code, and every
# `check` verdict and replay file, exactly as they were.
#
#   benches/identity.sh BEFORE AFTER [run|check|all]    (default: all)
#
# BEFORE and AFTER are fusebench binaries (e.g. release builds of two commits, copied out of
# target/). `run`: `fusebench run S --duration 4 --seed 1 --out DIR` for every
# scenarios/*/*.toml and scenarios/*/*/*.toml, plus three scenarios at full length; `trace.jsonl`,
# `report.json` and the exit code compared. `check`: `fusebench check S --cases 3 --seed 1
# --format json --out DIR` for every scenario under corpus, fixed, flawed, mesh, shop and rides;
# the JSON on stdout, the exit code and every file written compared. Prints each difference
# and a count; exits 1 when any run differs.
set -euo pipefail
cd "$(dirname "$0")/.."

if (($# < 2)); then
    echo "usage: benches/identity.sh BEFORE AFTER [run|check|all]" >&2
    exit 2
fi
before="$(realpath "$1")"
after="$(realpath "$2")"
what="${3:-all}"
for bin in "$before" "$after"; do
    [[ -x "$bin" ]] || { echo "identity.sh: $bin is not an executable" >&2; exit 2; }
done
case "$what" in run | check | all) ;; *) echo "identity.sh: unknown part '$what'" >&2; exit 2 ;; esac

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
runs=0
differ=0

# Runs BIN with ARGS…, its --out always the same path (`check` prints it), then moves what it
# wrote to DIR, its stdout to DIR.stdout and its exit code to DIR.rc.
capture() {
    local bin="$1" dir="$2" out="$work/out"
    shift 2
    rm -rf "$dir" "$out"
    local rc=0
    "$bin" "$@" --out "$out" >"$dir".stdout 2>/dev/null || rc=$?
    echo "$rc" >"$dir".rc
    if [[ -e "$out" ]]; then mv "$out" "$dir"; fi
}

# Compares the two captures of one run; FILES… are compared inside the out directories
# (all of them, recursively, when FILES is `-r`).
compare() {
    local label="$1"
    shift
    runs=$((runs + 1))
    local a="$work/a" b="$work/b" same=1
    cmp -s "$a".rc "$b".rc || { echo "DIFFER $label: exit $(cat "$a".rc) vs $(cat "$b".rc)"; same=0; }
    if [[ "$1" == -r ]]; then
        cmp -s "$a".stdout "$b".stdout || { echo "DIFFER $label: stdout"; same=0; }
        # `check` writes replay files only for failed properties: no directory on either side
        # is the same output.
        if [[ -e "$a" || -e "$b" ]]; then
            diff -rq "$a" "$b" >/dev/null 2>&1 || { echo "DIFFER $label: files"; same=0; }
        fi
    else
        local f
        for f in "$@"; do
            if [[ -e "$a/$f" || -e "$b/$f" ]]; then
                cmp -s "$a/$f" "$b/$f" || { echo "DIFFER $label: $f"; same=0; }
            fi
        done
    fi
    ((same)) || differ=$((differ + 1))
}

if [[ "$what" != check ]]; then
    for s in scenarios/*/*.toml scenarios/*/*/*.toml; do
        capture "$before" "$work/a" run "$s" --duration 4 --seed 1
        capture "$after" "$work/b" run "$s" --duration 4 --seed 1
        compare "run $s" trace.jsonl report.json
    done
    for s in scenarios/mesh/shop-crash.toml scenarios/rides/rides.toml \
        scenarios/edge-iot/edge-iot-elastic.toml; do
        capture "$before" "$work/a" run "$s" --seed 1
        capture "$after" "$work/b" run "$s" --seed 1
        compare "run $s (full length)" trace.jsonl report.json
    done
fi

if [[ "$what" != run ]]; then
    while IFS= read -r s; do
        capture "$before" "$work/a" check "$s" --cases 3 --seed 1 --format json
        capture "$after" "$work/b" check "$s" --cases 3 --seed 1 --format json
        compare "check $s" -r
    done < <(find scenarios/corpus scenarios/fixed scenarios/flawed scenarios/mesh \
        scenarios/shop scenarios/rides -name '*.toml' | LC_ALL=C sort)
fi

echo "identity: $runs runs compared, $differ differ"
((differ == 0))
