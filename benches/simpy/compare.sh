#!/usr/bin/env bash
# Engine vs SimPy: the same M/M/c model (scenarios/validation/mmc3-rho080.toml: λ = 800/s,
# exponential service of mean 3 ms, c = 3, 62.5 s of arrivals ≈ 50,000 requests) run by
# `fusebench run` and by SimPy (mmc.py reads λ, μ, c and the duration from the same file).
# Prints both wall times (whole processes, median of $RUNS), the speed ratio, the requests and
# both mean sojourn times side by side. Figures: benches/README.md, "Engine vs SimPy".
#
#   benches/simpy/compare.sh [SCENARIO] [--seed N] [--duration SECONDS]
#
# Environment: RUNS (default 5), SIMPY_VENV (default /tmp/fusebench-simpy-venv),
# CARGO_TARGET_DIR (default ./target).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
scenario=scenarios/validation/mmc3-rho080.toml
seed=1
duration=()
while [ $# -gt 0 ]; do
    case $1 in
        --seed) seed=$2; shift 2 ;;
        --duration) duration=(--duration "$2"); shift 2 ;;
        *) scenario=$1; shift ;;
    esac
done
runs=${RUNS:-5}
venv=${SIMPY_VENV:-/tmp/fusebench-simpy-venv}
target=${CARGO_TARGET_DIR:-$root/target}

# SimPy, in a virtual environment of its own.
if ! "$venv/bin/python" -c 'import simpy' 2>/dev/null; then
    echo "installing simpy into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'simpy==4.1.*'
fi
py=$venv/bin/python

# fusebench, optimised (building is not timed).
cargo build --release --no-default-features --quiet   # the command line alone: no workbench
fusebench=$target/release/fusebench

now() { date +%s%N; }
# Median wall time, in seconds, of running "$@" $runs times; the last run's stdout is in $out.
out=$(mktemp)
trap 'rm -f "$out"' EXIT
median_wall() {
    local times=()
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(now)
        "$@" >"$out"
        t1=$(now)
        times+=("$(( t1 - t0 ))")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "%.3f", a[int((NR + 1) / 2)] / 1e9 }'
}

fb_wall=$(median_wall "$fusebench" run "$scenario" --seed "$seed" "${duration[@]}")
fb_out=$(cat "$out")
sp_wall=$(median_wall "$py" benches/simpy/mmc.py "$scenario" --seed "$seed" "${duration[@]}")
sp_out=$(cat "$out")

# fusebench's figures from its output: requests on the station's endpoint row, the station's
# W (mean time in the service, ms) from its services table.
FB_OUT=$fb_out SP_OUT=$sp_out FB_WALL=$fb_wall SP_WALL=$sp_wall SCENARIO=$scenario SEED=$seed \
RUNS=$runs DURATION="${duration[*]}" "$py" - <<'PY'
import json, os, re

fb, sp = os.environ["FB_OUT"], json.loads(os.environ["SP_OUT"])
fb_wall, sp_wall = float(os.environ["FB_WALL"]), float(os.environ["SP_WALL"])

def requests(text):
    m = re.search(r"station\.serve\W+(\d+)", text)
    return int(m.group(1)) if m else None

def sojourn(text):
    """The station's W (mean time in the service, ms): from the `W ms` column of `run`'s
    services table (right-aligned under its header), or the `W (ms)` cell of a markdown one."""
    head = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if "W (ms)" in cells:
            head = ("md", cells.index("W (ms)"))
        elif re.match(r"\s*service\b", line) and "W ms" in line:
            head = ("cols", line.index("W ms") + len("W ms") - 1)
        elif head and re.match(r"\|?\s*station\b", line):
            kind, at = head
            if kind == "md":
                return float(cells[at]) if len(cells) > at else None
            for tok in re.finditer(r"\S+", line):
                if tok.start() <= at < tok.end():
                    return float(tok.group())
            return None
    return None

n_fb, w_fb = requests(fb), sojourn(fb)
fmt = lambda x, f: "n/a" if x is None else format(x, f)
print(f"scenario {os.environ['SCENARIO']} {os.environ['DURATION']}, seed {os.environ['SEED']}, "
      f"median of {os.environ['RUNS']} runs (whole processes)")
print(f"{'':<22} {'wall s':>8} {'requests':>9} {'mean sojourn ms':>16}")
print(f"{'fusebench run':<22} {fb_wall:>8.3f} {fmt(n_fb, 'd'):>9} {fmt(w_fb, '.3f'):>16}")
print(f"{'SimPy ' + sp['simpy']:<22} {sp_wall:>8.3f} {sp['requests']:>9d} "
      f"{sp['mean_sojourn_ms']:>16.3f}")
print(f"speed ratio (SimPy wall / fusebench wall): {sp_wall / fb_wall:.2f}x")
print(f"theory (Erlang C): W = {sp['theory_w_ms']:.3f} ms; "
      f"SimPy inside env.run(): {sp['run_s']:.3f} s")
if w_fb is None:
    print("(fusebench's output has no per-service W column: mean sojourn n/a)")
PY
