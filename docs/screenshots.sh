#!/usr/bin/env bash
# Regenerates the README's screenshots: the real workbench window under Xvfb, rendered by
# Mesa's software renderer (llvmpipe, through eframe's glow renderer), captured by the
# app itself (`fusebench gui ... --screenshot PNG`) once its scripted steps are done.
# Run from anywhere: bash docs/screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v xvfb-run >/dev/null || ! dpkg -s libgl1-mesa-dri >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        xvfb xauth libgl1-mesa-dri libegl1 libxkbcommon-x11-0 >/dev/null
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"

cargo build --release --bin fusebench
gui() {
    timeout 600 xvfb-run -a -s "-screen 0 1600x1000x24 -nolisten tcp" \
        target/release/fusebench gui "$@" --size 1600x1000
}
gui scenarios/shop/shop.toml --select orders --screenshot docs/graph.png
gui scenarios/shop/shop.toml --select catalog --run --screenshot docs/run.png
gui scenarios/flawed/dynamic/payment-redelivery.toml --check 4 --counterexample 0.06 \
    --screenshot docs/counterexample.png
echo "wrote docs/graph.png docs/run.png docs/counterexample.png"
