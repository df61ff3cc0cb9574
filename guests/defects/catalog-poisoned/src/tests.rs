//! The defect, pinned (without running the endless loop itself).

use alloc::vec::Vec;

use fusebench_guest::fake;

use super::*;

fn world() {
    fake::reset();
    for n in 1..=20 {
        fake::set_kv(
            DB,
            format!("product/sku-{n}"),
            format!(r#"{{"name":"Item {n}","price_cents":{}}}"#, 100 * n),
        );
    }
}

#[test]
fn answers_with_a_free_bin() {
    world();
    let reply = fake::invoke(get_product, r#"{"sku":"sku-3"}"#);
    assert_eq!(reply, r#"{"sku":"sku-3","name":"Item 3","price_cents":300,"bin":6}"#);
}

#[test]
fn every_sku_but_13_finds_a_bin() {
    for n in (1..=20).filter(|n| *n != 13) {
        let bin = pick_bin(n);
        assert!(!OCCUPIED[bin as usize], "sku-{n} got occupied bin {bin}");
    }
}

#[test]
fn defect_sku_13_probes_one_occupied_bin_forever() {
    let first: Vec<u32> = probes(13).take(1_000).collect();
    assert!(first.iter().all(|bin| *bin == 0), "the step is 0");
    assert!(OCCUPIED[0], "and its only bin is taken: pick_bin(13) never returns");
}

#[test]
fn unknown_and_malformed_skus() {
    world();
    assert_eq!(fake::invoke(get_product, r#"{"sku":"sku-99"}"#), r#"{"error":"not_found"}"#);
    assert_eq!(
        fake::invoke(get_product, r#"{"sku":"kettle"}"#),
        r#"{"error":"bad_request: sku must be sku-<number>"}"#
    );
}
