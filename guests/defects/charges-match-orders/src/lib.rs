//! A property checker written in Rust (guests/ABI.md, "Property checkers";
//! `fusebench_guest::property`): **no order is charged more than it was placed for**.
//!
//! It joins what no single expression reads together: the amount a client asked for — the body
//! of each `orders.place_order` request as it arrived (`arrival`, field `amount_cents`) — and
//! the running total the payments service keeps — each `store_write` of
//! `payments-db`/`charged/<order_id>` (decimal text). A total above the order's amount is a
//! violation at that write: the order was charged twice (or more). The totals the run ends
//! with (the state handed to `handle_end`) are judged the same way, so a total written by a path
//! the trace does not show as a `store_write` is still caught. Used by
//! `scenarios/flawed/temporal-double-charge.toml` (a consumer that charges every delivery) and
//! its fixed twin (charges each payment once), beside their temporal property.
#![no_std]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

use fusebench_guest::property::{Checker, End, Line, Stores};

#[cfg(test)]
mod tests;

const ORDERS: (&str, &str) = ("orders", "place_order");
const STORE: &str = "payments-db";
const TOTAL_PREFIX: &str = "charged/";

#[derive(Debug, Default)]
pub struct ChargesMatchOrders {
    /// order id → the amount its `place_order` asked for.
    ordered: BTreeMap<String, i64>,
    /// Totals written (the property's events): none means not exercised.
    totals: u64,
    /// Findings from the totals the run ended with.
    final_findings: alloc::vec::Vec<String>,
}

impl Checker for ChargesMatchOrders {
    fn event(&mut self, line: &Line) -> Option<String> {
        match line.ev() {
            "arrival"
                if (line.str("service"), line.str("endpoint"))
                    == (Some(ORDERS.0), Some(ORDERS.1)) =>
            {
                let body = line.json("body")?;
                let id = body.get("order_id")?.as_str()?;
                let amount = body.get("amount_cents")?.as_i64()?;
                self.ordered.insert(String::from(id), amount);
                None
            }
            "store_write" if line.str("store") == Some(STORE) => {
                let order = line.str("key")?.strip_prefix(TOTAL_PREFIX)?;
                self.totals += 1;
                let total: i64 = line.str("value")?.parse().ok()?;
                match self.ordered.get(order) {
                    Some(&amount) if total > amount => Some(format!(
                        "order {order} charged {total} cents in all, placed for {amount}: charged more than once"
                    )),
                    Some(_) => None,
                    None => Some(format!(
                        "order {order} charged {total} cents but no place_order for it arrived"
                    )),
                }
            }
            _ => None,
        }
    }

    fn state(&mut self, stores: &Stores) {
        let totals = stores.get(STORE).into_iter().flatten();
        for (key, value) in totals {
            let Some(order) = key.strip_prefix(TOTAL_PREFIX) else { continue };
            let (Ok(total), Some(&amount)) = (value.parse::<i64>(), self.ordered.get(order)) else {
                continue;
            };
            if total > amount {
                self.final_findings.push(format!(
                    "order {order} ends the run charged {total} cents, placed for {amount}"
                ));
            }
        }
    }

    fn end(&mut self) -> End {
        let mut end =
            End::exercised_if(self.totals > 0, "no order total was written to payments-db");
        end.findings.append(&mut self.final_findings);
        end
    }
}

fusebench_guest::property!(ChargesMatchOrders);
