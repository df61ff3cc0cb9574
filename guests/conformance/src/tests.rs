use std::fmt::Write as _;

use wasmi::{ExternType, FuncType, ValType};

use super::*;

/// The endpoints of each service (scenarios/shop/SERVICES.md).
const ENDPOINTS: [(&str, &[&str]); 6] = [
    ("catalog", &["get_product", "put_product"]),
    ("inventory", &["reserve", "restock", "stock"]),
    ("orders", &["create_order", "get_order"]),
    ("payments", &["charge"]),
    ("shipping", &["get_shipment", "on_order_placed"]),
    ("notifications", &["on_shipment_created", "sent_count"]),
];

fn abi_import(name: &str) -> Option<(Vec<ValType>, Vec<ValType>)> {
    use ValType::{I32, I64};
    let (params, results): (&[ValType], &[ValType]) = match name {
        "kv_get" | "cache_get" => (&[I32; 4], &[I64]),
        "kv_put" | "cache_put" => (&[I32; 6], &[I32]),
        "kv_delete" | "publish" => (&[I32; 4], &[I32]),
        "call" => (&[I32; 6], &[I64]),
        "log" => (&[I32; 3], &[]),
        "now" | "random" => (&[], &[I64]),
        _ => return None,
    };
    Some((params.to_vec(), results.to_vec()))
}

fn signature(ty: &FuncType) -> (Vec<ValType>, Vec<ValType>) {
    (ty.params().to_vec(), ty.results().to_vec())
}

/// Every committed module: only `fusebench.*` imports with the ABI's signatures, `memory`,
/// `alloc: (i32) -> i32`, exactly the service's `handle_*: (i32, i32) -> i64`, small memory.
#[test]
fn every_module_has_the_abi_shape() {
    use ValType::{I32, I64};
    let engine = engine();
    let mut problems = String::new();
    for flavour in [Flavour::Rust, Flavour::Polyglot] {
        for (service, endpoints) in ENDPOINTS {
            let path = module_path(service, flavour);
            let module = load_module(&engine, &path).expect("committed module loads");
            for import in module.imports() {
                let ok = match import.ty() {
                    ExternType::Func(ty) => {
                        import.module() == "fusebench"
                            && abi_import(import.name()) == Some(signature(ty))
                    }
                    _ => false,
                };
                if !ok {
                    let _ =
                        writeln!(problems, "{path}: import {}.{}", import.module(), import.name());
                }
            }
            let mut handlers = Vec::new();
            let mut has_memory = false;
            for export in module.exports() {
                match (export.name(), export.ty()) {
                    ("memory", ExternType::Memory(ty)) => {
                        has_memory = true;
                        let pages_max = if path.starts_with("rust/") { 3 } else { 1 };
                        if ty.minimum() > pages_max {
                            let _ = writeln!(problems, "{path}: {} initial pages", ty.minimum());
                        }
                    }
                    ("alloc", ExternType::Func(ty)) if signature(ty) == (vec![I32], vec![I32]) => {}
                    (name, ExternType::Func(ty))
                        if name.starts_with("handle_")
                            && signature(ty) == (vec![I32, I32], vec![I64]) =>
                    {
                        handlers.push(name.trim_start_matches("handle_").to_owned());
                    }
                    // rustc's wasm32 target always exports these two immutable globals.
                    ("__heap_base" | "__data_end", ExternType::Global(_))
                        if path.starts_with("rust/") => {}
                    (name, _) => {
                        let _ = writeln!(problems, "{path}: unexpected export {name}");
                    }
                }
            }
            handlers.sort();
            if handlers != endpoints {
                let _ = writeln!(problems, "{path}: handlers {handlers:?}, want {endpoints:?}");
            }
            if !has_memory {
                let _ = writeln!(problems, "{path}: no memory export");
            }
        }
    }
    assert!(problems.is_empty(), "{problems}");
}

/// Bad-request messages differ between languages (serde adds positions); the code does not.
fn normalise(response: &str) -> String {
    if response.starts_with(r#"{"error":"bad_request"#) {
        r#"{"error":"bad_request…"}"#.into()
    } else {
        response.into()
    }
}

struct Transcript {
    shop: Shop,
    lines: String,
}

impl Transcript {
    fn new(flavour: Flavour) -> Self {
        Self { shop: Shop::new(flavour).expect("the shop instantiates"), lines: String::new() }
    }

    fn send(&mut self, service: &str, endpoint: &str, body: &str) -> String {
        let response = self
            .shop
            .request(service, endpoint, body)
            .unwrap_or_else(|f| panic!("{service}.{endpoint} {body}: fault {}", f.0));
        let _ = writeln!(self.lines, "{service}.{endpoint} {body}\n  -> {}", normalise(&response));
        response
    }

    fn deliver(&mut self, channel: &str, service: &str, endpoint: &str) {
        let acks = self.shop.deliver(channel, 0, service, endpoint).expect("delivery");
        let _ = writeln!(self.lines, "deliver {channel} -> {service}.{endpoint}: {acks:?}");
    }

    /// The transcript plus the final state of every store, cache, channel and log.
    fn finish(self) -> String {
        let mut out = self.lines;
        let world = self.shop.world.borrow();
        for ((store, key), value) in &world.kv {
            let _ = writeln!(
                out,
                "kv {store} {} = {}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(value)
            );
        }
        for ((cache, key), value) in &world.cache {
            let _ = writeln!(
                out,
                "cache {cache} {} = {}",
                String::from_utf8_lossy(key),
                String::from_utf8_lossy(value)
            );
        }
        for (channel, message) in &world.published {
            let _ = writeln!(out, "published {channel} {message}");
        }
        for (service, level, line) in &world.logs {
            let _ = writeln!(out, "log {service} {level} {line}");
        }
        out
    }
}

/// The shop's happy and unhappy paths, end to end through `call` and the channels.
fn shop_script(flavour: Flavour) -> String {
    let mut t = Transcript::new(flavour);
    let apple = r#"{"sku":"apple","name":"Apple","price_cents":250}"#;
    assert_eq!(t.send("catalog", "put_product", apple), apple);
    t.send("catalog", "put_product", r#"{"sku":"gold","name":"Gold bar","price_cents":60000}"#);
    t.send("catalog", "put_product", r#"{"sku":"free","name":"Sticker","price_cents":0}"#);
    t.shop.world.borrow_mut().cache.clear(); // the next read misses and refills
    assert_eq!(t.send("catalog", "get_product", r#"{"sku":"apple"}"#), apple);
    assert_eq!(t.send("catalog", "get_product", r#"{"sku":"apple"}"#), apple);
    assert_eq!(t.send("catalog", "get_product", r#"{"sku":"durian"}"#), r#"{"error":"not_found"}"#);

    let k1 = r#"{"idempotency_key":"k1","customer":"ann","sku":"apple","qty":2}"#;
    let placed = r#"{"order_id":"ord-k1","status":"placed","total_cents":500}"#;
    assert_eq!(t.send("orders", "create_order", k1), placed);
    assert_eq!(t.send("orders", "create_order", k1), placed, "idempotent");
    t.send(
        "orders",
        "create_order",
        r#"{"idempotency_key":"k2","customer":"bob","sku":"gold","qty":2}"#,
    );
    t.send(
        "orders",
        "create_order",
        r#"{"idempotency_key":"k3","customer":"ann","sku":"apple","qty":99}"#,
    );
    t.send(
        "orders",
        "create_order",
        r#"{"idempotency_key":"k4","customer":"ann","sku":"durian","qty":1}"#,
    );
    t.send(
        "orders",
        "create_order",
        r#"{"idempotency_key":"k5","customer":"cy","sku":"free","qty":1}"#,
    );
    t.send(
        "orders",
        "create_order",
        r#"{"idempotency_key":"k6","customer":"dee","sku":"apple","qty":1}"#,
    );
    t.send("inventory", "stock", r#"{"sku":"apple"}"#);
    t.send("orders", "get_order", r#"{"order_id":"ord-k1"}"#);
    t.send("orders", "get_order", r#"{"order_id":"ord-zz"}"#);

    // At-least-once: every message delivered twice.
    t.deliver("order-events", "shipping", "on_order_placed");
    t.deliver("order-events", "shipping", "on_order_placed");
    t.deliver("shipment-events", "notifications", "on_shipment_created");
    t.deliver("shipment-events", "notifications", "on_shipment_created");
    assert_eq!(
        t.send("notifications", "sent_count", r#"{"customer":"ann"}"#),
        r#"{"customer":"ann","sent":1}"#
    );
    t.send("notifications", "sent_count", r#"{"customer":"nobody"}"#);
    t.send("shipping", "get_shipment", r#"{"order_id":"ord-k1"}"#);
    t.send("shipping", "get_shipment", r#"{"order_id":"ord-k2"}"#);

    // Failures downstream: nothing stored, and the retry completes.
    let k7 = r#"{"idempotency_key":"k7","customer":"ann","sku":"apple","qty":1}"#;
    for down in [
        "catalog",
        "inventory",
        "payments",
        "payments-db",
        "catalog-db",
        "order-events",
        "orders-db",
    ] {
        t.shop.world.borrow_mut().unavailable.insert(down.into());
        let _ = writeln!(t.lines, "-- {down} unavailable");
        t.send("orders", "create_order", k7);
        t.shop.world.borrow_mut().unavailable.remove(down);
    }
    t.shop.world.borrow_mut().unavailable.insert("product-cache".into());
    t.send("catalog", "get_product", r#"{"sku":"gold"}"#);
    t.send("orders", "create_order", k7);
    t.shop.world.borrow_mut().unavailable.clear();
    t.shop.world.borrow_mut().unavailable.insert("notifications-db".into());
    t.deliver("shipment-events", "notifications", "on_shipment_created");
    t.shop.world.borrow_mut().unavailable.clear();
    t.finish()
}

#[test]
fn the_polyglot_shop_behaves_exactly_like_the_rust_shop() {
    let rust = shop_script(Flavour::Rust);
    let polyglot = shop_script(Flavour::Polyglot);
    assert!(rust.contains("kv payments-db charged/ord-k1 = 500\n"), "{rust}");
    assert!(rust.contains("log notifications 1 notify ann: shipment shp-ord-k1\n"), "{rust}");
    assert_eq!(polyglot, rust);
}

/// Requests that exercise the hand-written JSON code of the C and AssemblyScript modules.
const EDGE_CASES: [(&str, &str, &str); 39] = [
    ("payments", "charge", r#"{"payment_id":"p1","order_id":"o1","amount_cents":100000}"#),
    ("payments", "charge", r#"{"payment_id":"p1","order_id":"o1","amount_cents":5}"#),
    ("payments", "charge", r#"{"payment_id":"p2","order_id":"o1","amount_cents":100001}"#),
    (
        "payments",
        "charge",
        r#"{"payment_id":"p3","order_id":"o1","amount_cents":-9223372036854775808}"#,
    ),
    ("payments", "charge", r#"{"payment_id":"p4","order_id":"o2","amount_cents":0}"#),
    (
        "payments",
        "charge",
        " {\n \"amount_cents\" : 7 , \"order_id\":\"o\\u00e9\\n\\\"q\\\"\\ud83d\\ude00\", \"x\":[1,{\"y\":\"}\"}], \"payment_id\":\"p\\/5\" } ",
    ),
    ("payments", "charge", r#"{"payment_id":"p6","order_id":"o\u0001\u001f","amount_cents":3}"#),
    ("payments", "charge", r#"{"payment_id":"p7","order_id":"o","amount_cents":1.5}"#),
    ("payments", "charge", r#"{"payment_id":"p7","order_id":"o","amount_cents":1e3}"#),
    ("payments", "charge", r#"{"payment_id":"p7","order_id":"o","amount_cents":"3"}"#),
    (
        "payments",
        "charge",
        r#"{"payment_id":"p7","order_id":"o","amount_cents":9223372036854775808}"#,
    ),
    ("payments", "charge", r#"{"payment_id":"p7","order_id":"o"}"#),
    ("payments", "charge", r#"{"payment_id":"p7","order_id":"o","amount_cents":3} x"#),
    (
        "payments",
        "charge",
        r#"{"payment_id":"p7","payment_id":"p8","order_id":"o","amount_cents":3}"#,
    ),
    ("payments", "charge", r#"{"payment_id":"p7","order_id":"o","amount_cents":3"#),
    ("payments", "charge", r#"{"payment_id":"p7\ud800","order_id":"o","amount_cents":3}"#),
    ("payments", "charge", r#"[]"#),
    ("payments", "charge", ""),
    (
        "catalog",
        "put_product",
        "{\"sku\":\"caf\\u00e9\",\"name\":\"Caf\u{e9} \\\"Noir\\\" \\\\ \\t\",\"price_cents\":120,\"tags\":[true,null,-1.5e-3]}",
    ),
    ("catalog", "get_product", r#"{"sku":"caf\u00e9"}"#),
    // An escaped key is the key it decodes to (AssemblyScript: the decoding path, not the view).
    ("catalog", "get_product", r#"{"s\u006bu":"caf\u00e9","n\u0061me":1}"#),
    ("catalog", "put_product", r#"{"sku":"esc","n\u0061me":"E","price_c\u0065nts":5}"#),
    ("catalog", "get_product", "{\"sku\":\"caf\u{e9}\"}"),
    ("catalog", "put_product", r#"{"sku":"neg","name":"N","price_cents":-1}"#),
    ("catalog", "put_product", r#"{"sku":"n","name":5,"price_cents":1}"#),
    ("catalog", "put_product", r#"{"sku":"n","price_cents":1}"#),
    ("catalog", "get_product", r#"{"sku":"neg","name":5}"#),
    ("catalog", "get_product", r#"{"sku":7}"#),
    ("catalog", "get_product", r#"{}"#),
    (
        "notifications",
        "on_shipment_created",
        r#"{"shipment_id":"s1","customer":"ann","n":[{"a":"]"}]}"#,
    ),
    ("notifications", "on_shipment_created", r#"{"shipment_id":"s1"}"#),
    ("notifications", "on_shipment_created", r#"{"customer":"ann"}"#),
    ("notifications", "on_shipment_created", r#"{"shipment_id":7,"customer":"ann"}"#),
    ("notifications", "sent_count", r#"{"customer":"ann"} "#),
    // Past the first eight bytes of a string (the C and WAT scans go eight bytes at a time).
    (
        "payments",
        "charge",
        r#"{"payment_id":"pay-12345678A","order_id":"order-123456789","amount_cents":42}"#,
    ),
    (
        "payments",
        "charge",
        "{\"payment_id\":\"pay-12345678\u{1}\",\"order_id\":\"o\",\"amount_cents\":1}",
    ),
    (
        "notifications",
        "on_shipment_created",
        r#"{"customer":"customer-1234567","type":"x","shipment_id":"shipment-12345678"}"#,
    ),
    (
        "notifications",
        "on_shipment_created",
        r#"{"shipment_id":"shipment-22345678","customer":"c","shipment_id":"s"}"#,
    ),
    ("notifications", "on_shipment_created", r#"{"shipment_id":"shipment-3234567","customer":9}"#),
];

#[test]
fn hand_written_json_matches_serde() {
    let mut outputs = Vec::new();
    for flavour in [Flavour::Rust, Flavour::Polyglot] {
        let mut t = Transcript::new(flavour);
        for (service, endpoint, body) in EDGE_CASES {
            t.send(service, endpoint, body);
        }
        outputs.push(t.finish());
    }
    assert!(outputs[0].contains(r#""order_id":"oé\n\"q\"😀""#), "{}", outputs[0]);
    assert_eq!(outputs[1], outputs[0]);
}

/// The WAT module's documented limitation: escaped strings are refused, not misread.
#[test]
fn wat_notifications_refuse_escaped_strings() {
    let shop = Shop::new(Flavour::Polyglot).expect("shop");
    let reply = shop
        .request(
            "notifications",
            "on_shipment_created",
            r#"{"shipment_id":"s\"1","customer":"ann"}"#,
        )
        .expect("no fault");
    assert_eq!(reply, r#"{"error":"bad_request: escaped strings are not supported"}"#);
    assert!(shop.world.borrow().kv.is_empty());
}

/// Many requests do not grow any module's memory: the response/arena discipline holds.
#[test]
fn memory_stays_bounded() {
    for flavour in [Flavour::Rust, Flavour::Polyglot] {
        let shop = Shop::new(flavour).expect("shop");
        shop.request("catalog", "put_product", r#"{"sku":"apple","name":"Apple","price_cents":1}"#)
            .expect("put");
        shop.request("inventory", "restock", r#"{"sku":"apple","qty":10000}"#).expect("restock");
        let pages_before: Vec<u64> =
            SERVICES.iter().map(|s| shop.guest(s).borrow().memory_pages()).collect();
        for i in 0..1500 {
            let body = format!(
                r#"{{"idempotency_key":"k{i}","customer":"c{}","sku":"apple","qty":1}}"#,
                i % 7
            );
            shop.request("orders", "create_order", &body).expect("create_order");
            shop.request("orders", "create_order", &body).expect("create_order again");
            shop.request("catalog", "get_product", r#"{"sku":"apple"}"#).expect("get_product");
        }
        shop.deliver("order-events", 0, "shipping", "on_order_placed").expect("deliver");
        shop.deliver("shipment-events", 0, "notifications", "on_shipment_created")
            .expect("deliver");
        for (service, before) in SERVICES.iter().zip(pages_before) {
            let after = shop.guest(service).borrow().memory_pages();
            assert!(after <= before + 1, "{flavour:?} {service}: {before} -> {after} pages");
        }
        let sent =
            shop.request("notifications", "sent_count", r#"{"customer":"c3"}"#).expect("count");
        assert!(sent.ends_with(r#""sent":214}"#), "{sent}");
    }
}

/// Empty requests arrive as (0, 0) without `alloc`, empty stored values likewise: answers, not
/// faults, and the arena-based modules do not grow on a stream of them.
#[test]
fn empty_requests_and_values() {
    let mut outputs = Vec::new();
    for flavour in [Flavour::Rust, Flavour::Polyglot] {
        let mut t = Transcript::new(flavour);
        for (service, endpoints) in ENDPOINTS {
            for endpoint in endpoints {
                t.send(service, endpoint, "");
            }
        }
        let pages: Vec<u64> =
            SERVICES.iter().map(|s| t.shop.guest(s).borrow().memory_pages()).collect();
        for _ in 0..2000 {
            t.shop.request("payments", "charge", "").expect("no fault");
            t.shop.request("catalog", "get_product", "").expect("no fault");
            t.shop.request("notifications", "sent_count", "").expect("no fault");
        }
        let after: Vec<u64> =
            SERVICES.iter().map(|s| t.shop.guest(s).borrow().memory_pages()).collect();
        assert_eq!(after, pages, "{flavour:?}");
        {
            let mut world = t.shop.world.borrow_mut();
            world.kv.insert(("payments-db".into(), b"charged/o1".to_vec()), Vec::new());
            world.kv.insert(("notifications-db".into(), b"count/ann".to_vec()), Vec::new());
            world.kv.insert(("catalog-db".into(), b"e".to_vec()), Vec::new());
        }
        t.send("payments", "charge", r#"{"payment_id":"p","order_id":"o1","amount_cents":1}"#);
        t.send("notifications", "sent_count", r#"{"customer":"ann"}"#);
        t.send("catalog", "get_product", r#"{"sku":"e"}"#);
        outputs.push(t.finish());
    }
    assert!(outputs[0].contains("-> {\"error\":\"corrupt_record\"}"), "{}", outputs[0]);
    assert_eq!(outputs[1], outputs[0]);
}

/// Fuel per request, printed for the record (`cargo test -- --nocapture`); bounded loosely.
#[test]
fn fuel_per_request() {
    for flavour in [Flavour::Rust, Flavour::Polyglot] {
        let shop = Shop::new(flavour).expect("shop");
        let requests = [
            ("catalog", "put_product", r#"{"sku":"apple","name":"Apple","price_cents":250}"#),
            ("catalog", "get_product", r#"{"sku":"apple"}"#),
            ("payments", "charge", r#"{"payment_id":"p1","order_id":"o1","amount_cents":250}"#),
            ("inventory", "reserve", r#"{"reservation_id":"r1","sku":"apple","qty":1}"#),
            (
                "orders",
                "create_order",
                r#"{"idempotency_key":"k1","customer":"ann","sku":"apple","qty":1}"#,
            ),
            ("orders", "get_order", r#"{"order_id":"ord-k1"}"#),
            (
                "shipping",
                "on_order_placed",
                r#"{"type":"order_placed","order_id":"o1","customer":"ann","sku":"apple","qty":1,"total_cents":250}"#,
            ),
            ("shipping", "get_shipment", r#"{"order_id":"o1"}"#),
            ("inventory", "stock", r#"{"sku":"apple"}"#),
            ("notifications", "on_shipment_created", r#"{"shipment_id":"s1","customer":"ann"}"#),
            ("notifications", "sent_count", r#"{"customer":"ann"}"#),
        ];
        for (service, endpoint, body) in requests {
            shop.request(service, endpoint, body).expect("request");
            let fuel = shop.guest(service).borrow().fuel_used_last;
            eprintln!(
                "{flavour:?} {} {service}.{endpoint}: {fuel} fuel",
                module_path(service, flavour)
            );
            assert!(fuel < 1_000_000, "{service}.{endpoint}: {fuel}");
        }
    }
}

/// The AssemblyScript catalog reads every one-byte change (replacement by a byte that matters
/// to the grammar, deletion, insertion) of product requests as the Rust catalog does: same
/// answers, same stores and cache. (Its strings are scanned eight bytes at a time and its keys
/// compared by words: every length and position of the seeds' keys and values is covered.)
#[test]
fn the_polyglot_catalog_reads_one_byte_changes_as_the_rust_catalog_does() {
    const BYTES: &[&str] = &[
        " ", "\"", "\\", "0", "-", "1", "9", "}", "{", ",", ":", "x", "e", ".", "n", "\n", "\u{1}",
        "\u{7f}", "é",
    ];
    let seeds = [
        ("put_product", r#"{"sku":"sku-1","name":"Kettle","price_cents":3499}"#),
        (
            "put_product",
            r#"{"price_cents":12,"name":"A rather long product name","sku":"sku-long-1"}"#,
        ),
        ("get_product", r#"{"sku":"sku-1"}"#),
        ("get_product", r#"{"sku":"sku-long-1"}"#),
    ];
    let mut bodies = Vec::new();
    for (endpoint, seed) in seeds {
        bodies.push((endpoint, seed.to_owned()));
        for (at, _) in seed.char_indices() {
            let next = seed[at..].chars().next().map_or(at, |c| at + c.len_utf8());
            bodies.push((endpoint, format!("{}{}", &seed[..at], &seed[next..])));
            for b in BYTES {
                bodies.push((endpoint, format!("{}{b}{}", &seed[..at], &seed[next..])));
                bodies.push((endpoint, format!("{}{b}{}", &seed[..at], &seed[at..])));
            }
        }
    }
    let mut outputs = Vec::new();
    for flavour in [Flavour::Rust, Flavour::Polyglot] {
        let mut t = Transcript::new(flavour);
        for (endpoint, body) in &bodies {
            t.send("catalog", endpoint, body);
            if *endpoint == "put_product" {
                t.send("catalog", "get_product", r#"{"sku":"sku-1"}"#);
                t.send("catalog", "get_product", r#"{"sku":"sku-long-1"}"#);
            }
        }
        outputs.push(t.finish());
    }
    assert!(bodies.len() > 4000, "{}", bodies.len());
    for (rust, polyglot) in outputs[0].lines().zip(outputs[1].lines()) {
        assert_eq!(polyglot, rust);
    }
    assert_eq!(outputs[1], outputs[0]);
}
