#!/usr/bin/env bash
# Builds and runs every fuzz target for a bounded time: bash fuzz/run.sh [SECONDS_EACH] [TARGET...]
# A crash (or a leak of the time/memory limits below) fails the script; libFuzzer then writes the
# input to fuzz/artifacts/<target>/ and prints how to reproduce it.
#
# Works on a stable toolchain: `--sanitizer none` needs no nightly flag (coverage comes from
# rustc's stable `-Cpasses=sancov-module`); RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass the few -Z
# flags it still uses. `-O` (release without cargo-fuzz's blanket `-Cdebug-assertions`) keeps
# the profile in fuzz/Cargo.toml in force: debug assertions and overflow checks everywhere but in
# wasmi, whose dispatch stops being tail calls with them and overflows the native stack on a long
# guest loop (the main workspace's profile does the same).
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-30}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
    targets=(scenario module contract replay guest_abi trace)
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# Seed corpora from the shipped files (fuzz/seeds/ holds what has no shipped file).
seed() {
    local target="$1"
    local dir="corpus/$target"
    mkdir -p "$dir"
    case "$target" in
        scenario) find ../scenarios ../tests/fixtures -name '*.toml' -exec cp {} "$dir/" \; 2>/dev/null || true ;;
        module) find ../scenarios ../tests/fixtures -name '*.wasm' -o -name '*.wat' | while read -r f; do
                    cp "$f" "$dir/$(echo "$f" | tr '/' '_')"; done ;;
        contract)
            # Every `request`/`response` shape written in a shipped scenario, with a sample body.
            grep -rhoE '^\s*(request|response) = \{.*\}\s*$' ../scenarios --include='*.toml' \
                | sed -E 's/^\s*(request|response) = //' | sort -u | nl -ba \
                | while read -r n shape; do printf '%s\n{"sku":"a","qty":1}\n' "$shape" > "$dir/shape-$n"; done ;;
        *) ;;
    esac
    if [[ -d "seeds/$target" ]]; then cp seeds/"$target"/* "$dir/"; fi
}

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
for t in "${targets[@]}"; do
    seed "$t"
    echo "== fuzz $t for ${seconds}s"
    if ! RUSTC_BOOTSTRAP=1 cargo fuzz run -O --sanitizer none "$t" "corpus/$t" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=3072 -print_final_stats=1 \
        >"$log" 2>&1; then
        tail -n 80 "$log" >&2
        echo "fuzz target $t failed: the input is in fuzz/artifacts/$t/" >&2
        exit 1
    fi
    grep -E '^(Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || tail -n 5 "$log"
done
