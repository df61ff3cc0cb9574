//! `orders`: idempotent order creation across catalog, inventory and payments
//! (scenarios/shop/SERVICES.md).
//!
//! Store `orders-db`: `order/<order_id>` holds the order as JSON; `order-key/<idempotency_key>`
//! holds the order id. The steps of `create_order`, in the order of their host calls:
//!
//! 1. `order-key/<key>` known (and its order readable): answer the stored order, unchanged.
//! 2. `catalog.get_product` for the price; an error answer is `unknown_product`.
//! 3. `inventory.reserve` with reservation id = order id (idempotent downstream); not reserved:
//!    the order is stored as `rejected`.
//! 4. `payments.charge` with payment id `pay-<order_id>` (idempotent downstream); declined:
//!    stored as `payment_declined`.
//! 5. Charged: publish `order_placed` on `order-events`, *then* store the order and the key.
//!    A lost store write makes a retry publish again (at-least-once; shipping is idempotent
//!    by order id), while the other order could lose the event for good.
//!
//! A call or publish that fails at the host (negative code) answers `<what>_unavailable` and
//! stores nothing; the caller retries with the same key, and every step above is idempotent.
#![no_std]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use fusebench_guest::{AppError, CallError, Reply, call, concat, endpoint, kv, publish};
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

const DB: &str = "orders-db";
const EVENTS: &str = "order-events";

#[derive(Debug, Deserialize)]
struct CreateOrder {
    idempotency_key: String,
    customer: String,
    sku: String,
    qty: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    Placed,
    Rejected,
    PaymentDeclined,
}

#[derive(Debug, Serialize, Deserialize)]
struct Order {
    order_id: String,
    customer: String,
    sku: String,
    qty: i64,
    total_cents: i64,
    status: Status,
}

#[derive(Debug, Serialize)]
struct OrderSummary {
    order_id: String,
    status: Status,
    total_cents: i64,
}

impl From<Order> for OrderSummary {
    fn from(order: Order) -> Self {
        Self { order_id: order.order_id, status: order.status, total_cents: order.total_cents }
    }
}

#[derive(Debug, Deserialize)]
struct OrderQuery {
    order_id: String,
}

/// What orders needs of the other services' contracts.
mod remote {
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Serialize)]
    pub struct ProductQuery<'a> {
        pub sku: &'a str,
    }

    #[derive(Debug, Deserialize)]
    pub struct Product {
        pub price_cents: i64,
    }

    #[derive(Debug, Serialize)]
    pub struct Reserve<'a> {
        pub reservation_id: &'a str,
        pub sku: &'a str,
        pub qty: i64,
    }

    #[derive(Debug, Deserialize)]
    pub struct Reservation {
        pub reserved: bool,
    }

    #[derive(Debug, Serialize)]
    pub struct Charge<'a> {
        pub payment_id: &'a str,
        pub order_id: &'a str,
        pub amount_cents: i64,
    }

    #[derive(Debug, Deserialize)]
    pub struct Payment {
        pub status: PaymentStatus,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum PaymentStatus {
        Charged,
        Declined,
    }

    #[derive(Debug, Serialize)]
    pub struct OrderPlaced<'a> {
        #[serde(rename = "type")]
        pub kind: &'static str,
        pub order_id: &'a str,
        pub customer: &'a str,
        pub sku: &'a str,
        pub qty: i64,
        pub total_cents: i64,
    }
}

endpoint!(create_order, fn(req: CreateOrder) -> Reply<OrderSummary>);
endpoint!(get_order, fn(req: OrderQuery) -> Reply<Order>);

/// POST /orders, idempotent by `idempotency_key`.
fn create_order(req: CreateOrder) -> Reply<OrderSummary> {
    if req.qty <= 0 {
        return Err(AppError::bad_request("qty must be positive"));
    }
    let key_key = concat(&["order-key/", &req.idempotency_key]);
    if let Some(order_id) = kv::get(DB, &key_key).map_err(|_| storage_unavailable())?
        && let Some(order) = load(&order_id)?
    {
        return Ok(order.into());
    }
    let order_id = concat(&["ord-", &req.idempotency_key]);

    let product = match call("catalog", "get_product", &remote::ProductQuery { sku: &req.sku }) {
        Ok(remote::Product { price_cents }) => price_cents,
        Err(CallError::Host(_)) => return Err(AppError::unavailable("catalog")),
        Err(_) => return Err(AppError::new("unknown_product")),
    };
    let total_cents =
        product.checked_mul(req.qty).ok_or_else(|| AppError::bad_request("total overflows"))?;
    let status = place(&req, &order_id, total_cents)?;

    let CreateOrder { customer, sku, qty, .. } = req;
    let order = Order { order_id, customer, sku, qty, total_cents, status };
    let record = fusebench_guest::json::to_vec(&order).map_err(|_| AppError::new("internal"))?;
    kv::put(DB, concat(&["order/", &order.order_id]), record).map_err(|_| storage_unavailable())?;
    kv::put(DB, &key_key, &order.order_id).map_err(|_| storage_unavailable())?;
    Ok(order.into())
}

/// Steps 3–5: reserve, charge, announce. The status to store, or why nothing is stored.
fn place(req: &CreateOrder, order_id: &str, total_cents: i64) -> Result<Status, AppError> {
    let reserve = remote::Reserve { reservation_id: order_id, sku: &req.sku, qty: req.qty };
    let reservation: remote::Reservation =
        call("inventory", "reserve", &reserve).map_err(|e| downstream_failure("inventory", &e))?;
    if !reservation.reserved {
        return Ok(Status::Rejected);
    }
    let payment_id = concat(&["pay-", order_id]);
    let charge = remote::Charge { payment_id: &payment_id, order_id, amount_cents: total_cents };
    let payment: remote::Payment =
        call("payments", "charge", &charge).map_err(|e| downstream_failure("payments", &e))?;
    if payment.status == remote::PaymentStatus::Declined {
        return Ok(Status::PaymentDeclined);
    }
    let event = remote::OrderPlaced {
        kind: "order_placed",
        order_id,
        customer: &req.customer,
        sku: &req.sku,
        qty: req.qty,
        total_cents,
    };
    publish(EVENTS, &event).map_err(|_| AppError::unavailable("events"))?;
    Ok(Status::Placed)
}

/// GET /orders/{order_id}.
fn get_order(req: OrderQuery) -> Reply<Order> {
    load(req.order_id.as_bytes())?.ok_or(AppError::new("not_found"))
}

fn load(order_id: &[u8]) -> Result<Option<Order>, AppError> {
    let mut key = String::from("order/");
    key.push_str(core::str::from_utf8(order_id).map_err(|_| AppError::new("corrupt_record"))?);
    match kv::get(DB, key).map_err(|_| storage_unavailable())? {
        None => Ok(None),
        Some(record) => fusebench_guest::json::from_slice(&record)
            .map(Some)
            .map_err(|_| AppError::new("corrupt_record")),
    }
}

/// `<service>_unavailable` when the host failed the call; `<service>_failed` when the service
/// answered something other than the contract's success.
#[cold]
#[inline(never)]
fn downstream_failure(service: &str, error: &CallError) -> AppError {
    match error {
        CallError::Host(_) => AppError::unavailable(service),
        _ => AppError::from_code(format!("{service}_failed")),
    }
}

#[cold]
#[inline(never)]
fn storage_unavailable() -> AppError {
    AppError::unavailable("storage")
}
