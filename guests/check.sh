#!/usr/bin/env bash
# Rebuilds every shop, edge-iot, rides and defect-scenario module into a temporary directory
# and compares it with the committed scenarios/shop/modules/SHA256SUMS,
# scenarios/edge-iot/modules/SHA256SUMS, scenarios/rides/modules/SHA256SUMS and
# scenarios/defects-modules/SHA256SUMS, the mesh filters', the scaling policies' and the
# composed services' (scenarios/composed/modules/) likewise
# (and the committed files with their sums).
#
#   exit 0  every rebuilt module is byte-identical to the committed one; a language whose
#           toolchain is absent prints "skipped: <toolchain> not installed" and is not compared
#   exit 1  a mismatch: the differing files are listed (rebuild with guests/build.sh)
#
# Installs nothing but the pinned npm packages (npm ci). Rust builds in a fresh target dir, so
# this is a real rebuild, not a cache hit (about a minute on 2 cores).
set -euo pipefail

guests="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$guests/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if ! CARGO_TARGET_DIR="$tmp/target" "$guests/build.sh" --out "$tmp/shop" \
    --edge-iot-out "$tmp/edge-iot" --rides-out "$tmp/rides" --defects-out "$tmp/defects-modules" --mesh-out "$tmp/mesh" --predictive-out "$tmp/predictive" --composed-out "$tmp/composed" --no-install \
    >"$tmp/build.log" 2>&1; then
    cat "$tmp/build.log" >&2
    echo "check: the rebuild failed" >&2
    exit 1
fi
grep '^skipped: ' "$tmp/build.log" || true

status=0
differs=()
compare() { # compare SYSTEM [DIR]: DIR (default scenarios/SYSTEM/modules) against $tmp/SYSTEM
    local system="$1" modules="${2:-$root/scenarios/$1/modules}" rebuilt_dir="$tmp/$1"
    # The committed files must match the committed sums.
    if ! (cd "$modules" && sha256sum --quiet --check SHA256SUMS) >"$tmp/committed.log" 2>&1; then
        sed "s#^#committed: $system/#" "$tmp/committed.log" >&2
        status=1
    fi
    # Every committed module of a language that was rebuilt must be rebuilt identically.
    while read -r sum file; do
        lang="${file%%/*}"
        [ -d "$rebuilt_dir/$lang" ] || continue # skipped: toolchain absent
        rebuilt="$(awk -v f="$file" '$2 == f { print $1 }' "$rebuilt_dir/SHA256SUMS")"
        if [ "$rebuilt" != "$sum" ]; then
            differs+=("$system/$file")
        fi
    done <"$modules/SHA256SUMS"
    # And nothing may be built that is not committed.
    while read -r _ file; do
        grep -q "  $file\$" "$modules/SHA256SUMS" || differs+=("$system/$file (not committed)")
    done <"$rebuilt_dir/SHA256SUMS"
}
compare shop
compare edge-iot
compare rides
compare defects-modules "$root/scenarios/defects-modules"
compare mesh
compare predictive
compare composed

if [ ${#differs[@]} -gt 0 ]; then
    echo "check: rebuilt modules differ from the committed ones:" >&2
    printf '  %s\n' "${differs[@]}" >&2
    status=1
fi
if [ "$status" = 0 ]; then
    echo "check: every rebuilt module matches scenarios/{shop,edge-iot,rides,mesh,predictive,composed}/modules/SHA256SUMS" \
        "and scenarios/defects-modules/SHA256SUMS"
fi
exit "$status"
