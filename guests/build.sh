#!/usr/bin/env bash
# Rebuilds every shop module from source into scenarios/shop/modules/, every edge-iot module
# into scenarios/edge-iot/modules/, every rides module (and the racy dispatch of its flawed
# twin) into scenarios/rides/modules/, and the known-defect scenarios' modules (scenarios/flawed/
# dynamic/ and their fixed twins in scenarios/fixed/) into scenarios/defects-modules/, the mesh
# filters (guests/filters/) into scenarios/mesh/modules/, the scaling policies (guests/policies/)
# into scenarios/predictive/modules/, the composed services and their libraries (guests/composed/)
# into scenarios/composed/modules/, and rewrites each directory's SHA256SUMS, so that a fresh machine runs every system without any
# WebAssembly toolchain.
#
#   guests/build.sh                 install what is missing, build, copy, update SHA256SUMS
#   guests/build.sh --out DIR       build the shop's modules into DIR instead (used by check.sh)
#   guests/build.sh --edge-iot-out DIR
#                                   build the edge-iot modules into DIR instead (check.sh)
#   guests/build.sh --rides-out DIR  build the rides modules into DIR instead (check.sh)
#   guests/build.sh --defects-out DIR
#                                   build the defect scenarios' modules into DIR instead
#   guests/build.sh --mesh-out DIR  build the mesh filters into DIR instead (check.sh)
#   guests/build.sh --predictive-out DIR
#                                   build the scaling policies into DIR instead (check.sh)
#   guests/build.sh --composed-out DIR
#                                   build the composed services' modules into DIR instead
#   guests/build.sh --no-install    never install a toolchain (apt, rustup); a language whose
#                                   toolchain is absent is reported as "skipped: <toolchain> not
#                                   installed" and its directory is not created in the output.
#                                   (npm dependencies are still fetched with `npm ci`: pinned
#                                   packages, not a toolchain.)
#
# Reproducible: the same toolchains give byte-identical modules (RUSTFLAGS from the
# environment is ignored; guests/.cargo/config.toml holds the flags).
set -euo pipefail

guests="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
modules="$(cd "$guests/.." && pwd)/scenarios/shop/modules"
out="$modules"
edge_out="$(cd "$guests/.." && pwd)/scenarios/edge-iot/modules"
rides_modules="$(cd "$guests/.." && pwd)/scenarios/rides/modules"
rides_out="$rides_modules"
defects_modules="$(cd "$guests/.." && pwd)/scenarios/defects-modules"
defects_out="$defects_modules"
mesh_modules="$(cd "$guests/.." && pwd)/scenarios/mesh/modules"
mesh_out="$mesh_modules"
predictive_out="$(cd "$guests/.." && pwd)/scenarios/predictive/modules"
composed_modules="$(cd "$guests/.." && pwd)/scenarios/composed/modules"
composed_out="$composed_modules"
install=1
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out="$2"; shift 2 ;;
        --edge-iot-out) edge_out="$2"; shift 2 ;;
        --rides-out) rides_out="$2"; shift 2 ;;
        --defects-out) defects_out="$2"; shift 2 ;;
        --mesh-out) mesh_out="$2"; shift 2 ;;
        --predictive-out) predictive_out="$2"; shift 2 ;;
        --composed-out) composed_out="$2"; shift 2 ;;
        --no-install) install=0; shift ;;
        *) echo "usage: $0 [--out DIR] [--edge-iot-out DIR] [--rides-out DIR] [--defects-out DIR] [--mesh-out DIR] [--predictive-out DIR] [--composed-out DIR] [--no-install]" >&2
           exit 2 ;;
    esac
done
mkdir -p "$out" "$edge_out" "$rides_out" "$defects_out" "$mesh_out" "$predictive_out" "$composed_out"

RUST_SERVICES=(catalog catalog2 inventory orders payments shipping notifications)
EDGE_IOT_SERVICES=(ingest devices aggregate history alerts) # Rust only
# guests/rides/<crate> -> scenarios/rides/modules/rust/<crate>.wasm (dispatch-racy: the flawed
# twin's); pricing is hand-written WAT (scenarios/rides/modules/wat/).
RIDES_SERVICES=(rides dispatch dispatch-racy)
RIDES_WAT=(pricing)
# guests/defects/<crate> -> scenarios/defects-modules/rust/<crate>.wasm; the WAT modules there
# are hand-written (scenarios/defects-modules/wat/).
DEFECT_SERVICES=(pay-orders charge-every-delivery charge-once prices checkout catalog-poisoned
    catalog-guarded catalog-renamed)
# Property checkers (the SDK's `property` feature), also into scenarios/defects-modules/rust/.
# Built by a cargo run of their own: features unify within one run, and the services' SDK must
# stay without the feature to rebuild byte-identical.
PROPERTY_CHECKERS=(charges-match-orders)
DEFECT_WAT=(search profile pricing fraud reviews)
# Mesh filters (the SDK's `filter` feature, a cargo run of their own like the checkers) into
# scenarios/mesh/modules/rust/; the C one (guests/filters/*.c) into scenarios/mesh/modules/c/.
MESH_FILTERS=(api-key header-router)
MESH_FILTERS_C=(body-validator)
# Scaling policies (the SDK's `policy` feature, a cargo run of their own) into
# scenarios/predictive/modules/rust/.
POLICIES=(holt-winters)
# Composed services (crate composed-<name> in guests/composed/<name>) into
# scenarios/composed/modules/rust/<name>.wasm; their
# libraries: `money` in C (guests/composed/money.c) into modules/c/, the legacy core hand-written
# WAT (scenarios/composed/modules/wat/).
COMPOSED_SERVICES=(composed-checkout composed-invoice composed-quotes)
COMPOSED_C=(money)
COMPOSED_WAT=(legacy-pricing)
SKIPPED=()

skip() {
    echo "skipped: $1 not installed" >&2
    SKIPPED+=("$2")
}

apt_install() { # apt_install PACKAGE... (only as root, only with apt)
    [ "$install" = 1 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null || return 1
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

build_rust() {
    if ! command -v cargo >/dev/null; then skip cargo rust; return; fi
    if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        if [ "$install" = 1 ] && command -v rustup >/dev/null; then
            rustup target add wasm32-unknown-unknown
        else
            skip "rust target wasm32-unknown-unknown" rust; return
        fi
    fi
    local packages=()
    for s in "${RUST_SERVICES[@]}" "${EDGE_IOT_SERVICES[@]}" "${RIDES_SERVICES[@]}" \
        "${DEFECT_SERVICES[@]}" "${COMPOSED_SERVICES[@]}"; do
        packages+=(-p "$s")
    done
    local checkers=()
    for s in "${PROPERTY_CHECKERS[@]}"; do
        checkers+=(-p "$s")
    done
    local filters=()
    for s in "${MESH_FILTERS[@]}"; do
        filters+=(-p "$s")
    done
    local policies=()
    for s in "${POLICIES[@]}"; do
        policies+=(-p "$s")
    done
    for run in packages checkers filters policies; do
        local -n selected="$run"
        (cd "$guests" && env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_RUSTFLAGS \
            cargo build --locked --release --target wasm32-unknown-unknown "${selected[@]}")
    done
    local target_dir="${CARGO_TARGET_DIR:-$guests/target}"
    mkdir -p "$out/rust"
    for s in "${RUST_SERVICES[@]}"; do
        cp "$target_dir/wasm32-unknown-unknown/release/$s.wasm" "$out/rust/$s.wasm"
    done
    mkdir -p "$edge_out/rust"
    for s in "${EDGE_IOT_SERVICES[@]}"; do
        cp "$target_dir/wasm32-unknown-unknown/release/$s.wasm" "$edge_out/rust/$s.wasm"
    done
    mkdir -p "$rides_out/rust"
    for s in "${RIDES_SERVICES[@]}"; do
        cp "$target_dir/wasm32-unknown-unknown/release/${s//-/_}.wasm" "$rides_out/rust/$s.wasm"
    done
    mkdir -p "$defects_out/rust"
    for s in "${DEFECT_SERVICES[@]}" "${PROPERTY_CHECKERS[@]}"; do
        cp "$target_dir/wasm32-unknown-unknown/release/${s//-/_}.wasm" "$defects_out/rust/$s.wasm"
    done
    mkdir -p "$mesh_out/rust"
    for s in "${MESH_FILTERS[@]}"; do
        cp "$target_dir/wasm32-unknown-unknown/release/${s//-/_}.wasm" "$mesh_out/rust/$s.wasm"
    done
    mkdir -p "$predictive_out/rust"
    for s in "${POLICIES[@]}"; do
        cp "$target_dir/wasm32-unknown-unknown/release/${s//-/_}.wasm" "$predictive_out/rust/$s.wasm"
    done
    mkdir -p "$composed_out/rust"
    for s in "${COMPOSED_SERVICES[@]}"; do
        cp "$target_dir/wasm32-unknown-unknown/release/${s//-/_}.wasm" "$composed_out/rust/${s#composed-}.wasm"
    done
}

build_c() {
    if ! command -v clang >/dev/null || ! command -v wasm-ld >/dev/null; then
        apt_install clang lld || { skip "clang/lld" c; return; }
    fi
    mkdir -p "$out/c"
    # Compile and link separately: clang as the linker driver runs binaryen's wasm-opt when it
    # finds one on PATH, which would make the module depend on what else the machine has.
    local obj
    obj="$(mktemp --suffix=.o)"
    # -Os, not -O2: wasmi meters fuel per function entry and per loop iteration for all the
    # code there, run or not, so smaller functions are cheaper (-O2 15,929 fuel per charge,
    # -Os 10,444, -Oz 11,695; benches/README.md "Lighter guests", second round).
    clang --target=wasm32 -Os -mbulk-memory -std=c11 -nostdlib -Wall -Wextra -Werror \
        -c -o "$obj" "$guests/c/payments.c"
    wasm-ld --no-entry --strip-all -z stack-size=16384 --stack-first \
        -o "$out/c/payments.wasm" "$obj"
    rm -f "$obj"
    mkdir -p "$mesh_out/c"
    for f in "${MESH_FILTERS_C[@]}"; do
        clang --target=wasm32 -O2 -std=c11 -nostdlib -Wall -Wextra -Werror \
            -c -o "$obj" "$guests/filters/$f.c"
        wasm-ld --no-entry --strip-all -z stack-size=16384 --stack-first \
            -o "$mesh_out/c/$f.wasm" "$obj"
        rm -f "$obj"
    done
    mkdir -p "$composed_out/c"
    for f in "${COMPOSED_C[@]}"; do
        clang --target=wasm32 -O2 -std=c11 -nostdlib -Wall -Wextra -Werror \
            -c -o "$obj" "$guests/composed/$f.c"
        wasm-ld --no-entry --strip-all -z stack-size=16384 --stack-first \
            -o "$composed_out/c/$f.wasm" "$obj"
        rm -f "$obj"
    done
    # The ABI header no shipped module includes yet: compiled through a check module, kept
    # nowhere.
    clang --target=wasm32 -O2 -std=c11 -nostdlib -Wall -Wextra -Werror \
        -c -o "$obj" "$guests/c/fusebench-check.c"
    rm -f "$obj"
}

build_as() {
    if ! command -v npm >/dev/null; then skip "node/npm" as; return; fi
    if [ ! -x "$guests/as/node_modules/.bin/asc" ]; then
        (cd "$guests/as" && npm ci --no-audit --no-fund --loglevel=error)
    fi
    mkdir -p "$out/as"
    (cd "$guests/as" && ./node_modules/.bin/asc assembly/catalog.ts --config asconfig.json \
        --target release --outFile "$out/as/catalog.wasm")
    # The ABI helpers no shipped module uses yet: compiled through a check module, kept nowhere.
    local scratch
    scratch="$(mktemp -d)"
    printf '{"options":{}}' >"$scratch/asconfig.json"
    (cd "$guests/as" && ./node_modules/.bin/asc assembly/fusebench-check.ts \
        --config "$scratch/asconfig.json" --runtime stub --outFile "$scratch/check.wasm")
    rm -rf "$scratch"
}

check_wat() { # hand-written: validate, and carry it along when building elsewhere
    if ! command -v wat2wasm >/dev/null; then
        apt_install wabt || { skip "wabt (wat2wasm)" wat; return; }
    fi
    wat2wasm "$modules/wat/notifications.wat" --output=/dev/null
    if [ "$out" != "$modules" ]; then
        mkdir -p "$out/wat"
        cp "$modules/wat/notifications.wat" "$out/wat/notifications.wat"
    fi
    for w in "${DEFECT_WAT[@]}"; do
        wat2wasm "$defects_modules/wat/$w.wat" --output=/dev/null
    done
    for w in "${RIDES_WAT[@]}"; do
        wat2wasm "$rides_modules/wat/$w.wat" --output=/dev/null
    done
    if [ "$rides_out" != "$rides_modules" ]; then
        mkdir -p "$rides_out/wat"
        for w in "${RIDES_WAT[@]}"; do
            cp "$rides_modules/wat/$w.wat" "$rides_out/wat/$w.wat"
        done
    fi
    for w in "${COMPOSED_WAT[@]}"; do
        wat2wasm "$composed_modules/wat/$w.wat" --output=/dev/null
    done
    if [ "$composed_out" != "$composed_modules" ]; then
        mkdir -p "$composed_out/wat"
        for w in "${COMPOSED_WAT[@]}"; do
            cp "$composed_modules/wat/$w.wat" "$composed_out/wat/$w.wat"
        done
    fi
    if [ "$defects_out" != "$defects_modules" ]; then
        mkdir -p "$defects_out/wat"
        for w in "${DEFECT_WAT[@]}"; do
            cp "$defects_modules/wat/$w.wat" "$defects_out/wat/$w.wat"
        done
    fi
}

build_rust
build_c
build_as
check_wat

sums() { # sums DIR: rewrite DIR/SHA256SUMS for DIR/<lang>/*.{wasm,wat}
    (cd "$1" && find . -mindepth 2 -maxdepth 2 -type f \( -name '*.wasm' -o -name '*.wat' \) \
        | sed 's#^\./##' | LC_ALL=C sort | xargs -r sha256sum > SHA256SUMS)
}
sums "$out"
sums "$edge_out"
sums "$rides_out"
sums "$defects_out"
sums "$mesh_out"
sums "$predictive_out"
sums "$composed_out"
if [ ${#SKIPPED[@]} -gt 0 ]; then
    echo "built with languages skipped: ${SKIPPED[*]}" >&2
fi
for dir in "$out" "$edge_out" "$rides_out" "$defects_out" "$mesh_out" "$predictive_out" "$composed_out"; do
    echo "modules in $dir:"
    (cd "$dir" && LC_ALL=C sort -k2 SHA256SUMS | while read -r _ f; do printf '  %-28s %7d bytes\n' "$f" "$(stat -c %s "$f")"; done)
done
