use super::*;

fn shop() -> Scenario {
    let text = include_str!("../../../scenarios/shop/shop.toml");
    fusebench_model::parse("shop.toml", text).ok().expect("the shop parses")
}

#[test]
fn every_element_of_the_shop_is_a_node() {
    let s = shop();
    let d = Diagram::new(&s);
    for svc in &s.services {
        let i = d.service(&svc.name).expect("service node");
        assert_eq!(d.nodes[i].kind, NodeKind::Service);
        let ctx = s.contexts.iter().position(|c| c.name == svc.context.name);
        assert_eq!(d.nodes[i].context, ctx, "{} coloured by its context", svc.name);
    }
    assert_eq!(d.nodes[d.store("product-cache").expect("cache")].kind, NodeKind::Cache);
    assert_eq!(d.nodes[d.store("events").expect("broker")].kind, NodeKind::Broker);
    assert_eq!(d.nodes[d.store("orders-db").expect("store")].kind, NodeKind::Store);
    for k in [NodeKind::Client, NodeKind::Gateway, NodeKind::Registry] {
        assert!(d.fixed(k).is_some(), "{k:?}");
    }
    assert_eq!(d.layout.centres.len(), d.nodes.len());
}

#[test]
fn sync_calls_are_solid_with_their_protocol_and_async_channels_dashed() {
    let d = Diagram::new(&shop());
    let orders = d.service("orders").expect("orders");
    let payments = d.service("payments").expect("payments");
    let e = &d.edges[d.edge_between(orders, payments).expect("orders calls payments")];
    assert_eq!(e.kind, EdgeKind::Sync { protocol: "gRPC" });
    assert!(!e.kind.dashed());
    assert_eq!(e.endpoints, ["payments.charge"]);
    let catalog = d.service("catalog").expect("catalog");
    let rest = &d.edges[d.edge_between(orders, catalog).expect("orders calls catalog")];
    assert_eq!(rest.kind, EdgeKind::Sync { protocol: "REST" });
    let events = d.store("events").expect("broker");
    let publish = &d.edges[d.edge_between(orders, events).expect("orders publishes")];
    assert!(publish.kind.dashed());
    assert_eq!(publish.label, "order-events");
    let shipping = d.service("shipping").expect("shipping");
    let deliver = &d.edges[d.edge_between(events, shipping).expect("delivery to shipping")];
    assert!(matches!(deliver.kind, EdgeKind::Async { channel_kind: "event-stream" }));
    assert_eq!(d.broker_of("order-events"), Some(events));
    assert_eq!(d.consumer("order-events", "shipping"), Some(shipping));
}

#[test]
fn public_endpoints_are_routed_from_the_gateway_and_tiers_become_bands() {
    let s = shop();
    let d = Diagram::new(&s);
    let gw = d.fixed(NodeKind::Gateway).expect("gateway");
    let catalog = d.service("catalog").expect("catalog");
    let route = &d.edges[d.edge_between(gw, catalog).expect("route")];
    assert_eq!(route.endpoints, ["catalog.get_product", "catalog.put_product"]);
    // The shop's catalog runs at the regional edge, orders in the cloud.
    assert_eq!(d.nodes[catalog].band, Band::RegionalEdge);
    assert_eq!(d.nodes[d.service("orders").expect("orders")].band, Band::Cloud);
    let bands: Vec<Band> = d.layout.bands.iter().map(|b| b.0).collect();
    assert!(bands.contains(&Band::RegionalEdge) && bands.contains(&Band::Cloud), "{bands:?}");
}

#[test]
fn a_thousand_services_lay_out_without_overlap() {
    let text = crate::synthetic::scenario(1000);
    let s = fusebench_model::parse("synthetic.toml", &text).ok().expect("parses");
    let d = Diagram::new(&s);
    assert!(d.nodes.len() > 1500, "services, stores, fixed nodes: {}", d.nodes.len());
    let mut boxes: Vec<(f32, f32)> =
        d.layout.centres.iter().map(|c| (c.x.round(), c.y.round())).collect();
    boxes.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    boxes.dedup();
    assert_eq!(boxes.len(), d.nodes.len(), "no two nodes share a place");
}
