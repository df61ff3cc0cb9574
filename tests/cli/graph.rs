//! `fusebench graph`: the service graph as Graphviz DOT and Mermaid.

use crate::support::{code, fusebench, stdout};

#[test]
fn shop_graph_in_dot_and_mermaid() {
    let out = fusebench(&["graph", "--format", "dot", "scenarios/shop/shop.toml"]);
    assert_eq!(code(&out), 0);
    let dot = stdout(&out);
    assert!(dot.starts_with("digraph \"shop\" {"), "{dot}");
    assert!(dot.contains("subgraph \"cluster_sales\""), "{dot}");
    assert!(dot.contains("\"orders\" -> \"payments\" [label=\"charge (grpc)\"]"), "{dot}");
    assert!(
        dot.contains(
            "\"orders\" -> \"shipping\" [style=dashed, label=\"on_order_placed via order-events\"]"
        ),
        "{dot}"
    );
    assert!(dot.contains("\"store:orders-db\" [shape=cylinder"), "{dot}");

    let out = fusebench(&["graph", "--format", "mermaid", "scenarios/shop/shop.toml"]);
    assert_eq!(code(&out), 0);
    let mermaid = stdout(&out);
    assert!(mermaid.starts_with("flowchart LR\n"), "{mermaid}");
    // Ids are positional (catalog, inventory, orders, payments, shipping, notifications).
    assert!(mermaid.contains("svc2[\"orders v1.4.2\"]"), "{mermaid}");
    assert!(mermaid.contains("svc2 -->|\"reserve grpc\"| svc1"), "{mermaid}");
    assert!(
        mermaid.contains("svc4 -.->|\"on_shipment_created via shipment-events\"| svc5"),
        "{mermaid}"
    );
    assert!(mermaid.contains("gateway -->|\"create_order\"| svc2"), "{mermaid}");
}

#[test]
fn graph_of_a_broken_scenario_is_refused() {
    let out = fusebench(&["graph", "scenarios/flawed/static/../../../Cargo.toml"]);
    assert_eq!(code(&out), 2);
}
