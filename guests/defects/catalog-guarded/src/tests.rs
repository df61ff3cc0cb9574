use alloc::collections::BTreeSet;

use fusebench_guest::{HostError, fake};

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
    assert_eq!(reply, r#"{"sku":"sku-3","name":"Item 3","price_cents":300,"bin":7}"#);
}

#[test]
fn sku_13_moves_past_its_occupied_home_bin() {
    world();
    let reply = fake::invoke(get_product, r#"{"sku":"sku-13"}"#);
    assert_eq!(reply, r#"{"sku":"sku-13","name":"Item 13","price_cents":1300,"bin":2}"#);
}

#[test]
fn every_probe_sequence_visits_every_bin_once() {
    for n in 0..200 {
        let bins: BTreeSet<u32> = probes(n).collect();
        assert_eq!(bins.len(), BINS as usize, "sku-{n}");
        assert_eq!(pick_bin(n, &OCCUPIED).map(|b| OCCUPIED[b as usize]), Some(false), "sku-{n}");
    }
}

#[test]
fn a_full_pick_face_is_an_error_not_a_loop() {
    assert_eq!(pick_bin(13, &[true; BINS as usize]), None);
}

#[test]
fn unknown_malformed_and_unavailable() {
    world();
    assert_eq!(fake::invoke(get_product, r#"{"sku":"sku-99"}"#), r#"{"error":"not_found"}"#);
    assert_eq!(
        fake::invoke(get_product, r#"{"sku":"kettle"}"#),
        r#"{"error":"bad_request: sku must be sku-<number>"}"#
    );
    fake::fail(DB, Some(HostError::Unavailable));
    assert_eq!(
        fake::invoke(get_product, r#"{"sku":"sku-1"}"#),
        r#"{"error":"storage_unavailable"}"#
    );
}
