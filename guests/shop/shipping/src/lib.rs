//! `shipping`: one shipment per placed order (scenarios/shop/SERVICES.md).
//!
//! Store `shipping-db`: `shipment/<order_id>` holds the shipment as JSON. `on_order_placed`
//! consumes `order-events` (at-least-once) and is idempotent by order id: a known order is
//! acknowledged without effect. For a new order it publishes `shipment_created` *before*
//! storing the shipment, so a lost store write leads to a second event on redelivery
//! (notifications is idempotent by shipment id) and never to a lost one.
#![no_std]

extern crate alloc;

use alloc::string::String;

use fusebench_guest::{Ack, AppError, Reply, concat, endpoint, kv, publish};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "shipping-db";
const EVENTS: &str = "shipment-events";

/// The `order_placed` event as orders publishes it; other fields are ignored.
#[derive(Debug, Deserialize)]
struct OrderPlaced {
    #[serde(rename = "type")]
    kind: Option<String>,
    order_id: String,
    customer: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Shipment {
    shipment_id: String,
    order_id: String,
    customer: String,
    status: String,
}

#[derive(Debug, Serialize)]
struct ShipmentCreated<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    shipment_id: &'a str,
    order_id: &'a str,
    customer: &'a str,
}

#[derive(Debug, Deserialize)]
struct ShipmentQuery {
    order_id: String,
}

endpoint!(on_order_placed, fn(msg: OrderPlaced) -> Reply<Ack>);
endpoint!(get_shipment, fn(req: ShipmentQuery) -> Reply<Shipment>);

/// Subscription to `order-events`.
fn on_order_placed(msg: OrderPlaced) -> Reply<Ack> {
    if msg.kind.as_deref().is_some_and(|kind| kind != "order_placed") {
        return Ok(Ack::OK); // another event type on the stream: not ours to act on
    }
    let key = concat(&["shipment/", &msg.order_id]);
    if kv::get(DB, &key).map_err(|_| storage_unavailable())?.is_some() {
        return Ok(Ack::OK);
    }
    let OrderPlaced { order_id, customer, .. } = msg;
    let shipment = Shipment {
        shipment_id: concat(&["shp-", &order_id]),
        order_id,
        customer,
        status: "created".into(),
    };
    let event = ShipmentCreated {
        kind: "shipment_created",
        shipment_id: &shipment.shipment_id,
        order_id: &shipment.order_id,
        customer: &shipment.customer,
    };
    publish(EVENTS, &event).map_err(|_| AppError::unavailable("events"))?;
    let record = fusebench_guest::json::to_vec(&shipment).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, &key, record).map_err(|_| storage_unavailable())?;
    Ok(Ack::OK)
}

/// GET /shipments/{order_id}.
fn get_shipment(req: ShipmentQuery) -> Reply<Shipment> {
    let record = kv::get(DB, concat(&["shipment/", &req.order_id]))
        .map_err(|_| storage_unavailable())?
        .ok_or(AppError::new("not_found"))?;
    fusebench_guest::json::from_slice(&record).map_err(|_| AppError::new("corrupt_record"))
}

fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
