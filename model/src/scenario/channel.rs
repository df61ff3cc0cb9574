//! C: communication channels — synchronous (REST, gRPC) and asynchronous (queue, event stream) —
//! with their delivery semantics, timeouts and retries (seed §2.2).

use serde::Serialize;

use super::NameRef;
use super::reader::{Cx, Obj};
use crate::diagnostic::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChannelKind {
    Rest,
    Grpc,
    /// Point to point: each message to one consumer per group.
    Queue,
    /// Publish/subscribe: each message to every group.
    EventStream,
}

impl ChannelKind {
    #[must_use]
    pub fn is_sync(self) -> bool {
        matches!(self, ChannelKind::Rest | ChannelKind::Grpc)
    }

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ChannelKind::Rest => "rest",
            ChannelKind::Grpc => "grpc",
            ChannelKind::Queue => "queue",
            ChannelKind::EventStream => "event-stream",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Delivery {
    AtMostOnce,
    AtLeastOnce,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    pub delivery: Delivery,
    /// Async only: the broker store carrying the messages.
    pub broker: Option<NameRef>,
    /// Sync: time a caller waits for a reply. Async: time a broker waits for an ack before
    /// redelivering (at-least-once).
    pub timeout_ms: f64,
    /// Sync: retries after a timeout or an unavailable callee.
    pub retries: u32,
    /// Base backoff between retries (doubled each time, with jitter), in milliseconds.
    pub backoff_ms: f64,
    #[serde(skip)]
    pub span: Span,
}

impl Channel {
    pub(crate) fn read(cx: &mut Cx<'_>, mut o: Obj<'_, '_>) -> Option<Channel> {
        let name = o.req_str(cx, "name", "the channel's name");
        let kind = if o.has("kind") {
            o.opt_enum(
                cx,
                "kind",
                &[
                    ("rest", ChannelKind::Rest),
                    ("grpc", ChannelKind::Grpc),
                    ("queue", ChannelKind::Queue),
                    ("event-stream", ChannelKind::EventStream),
                ],
            )
        } else {
            cx.error(
                "parse.missing-field",
                o.span,
                &o.field("kind"),
                "missing required field `kind` (rest, grpc, queue or event-stream)",
            );
            None
        };
        let sync = kind.is_some_and(ChannelKind::is_sync);
        let default_delivery = if sync { Delivery::AtMostOnce } else { Delivery::AtLeastOnce };
        let delivery = o
            .opt_enum(
                cx,
                "delivery",
                &[("at-most-once", Delivery::AtMostOnce), ("at-least-once", Delivery::AtLeastOnce)],
            )
            .unwrap_or(default_delivery);
        let broker = o.opt_str(cx, "broker").map(NameRef::from);
        if let Some(kind) = kind {
            if !sync && broker.is_none() {
                cx.error(
                    "parse.missing-field",
                    o.span,
                    &o.field("broker"),
                    format!("a {} channel needs a `broker` (a store of kind broker)", kind.name()),
                );
            }
            if let (true, Some(b)) = (sync, &broker) {
                cx.error(
                    "parse.value",
                    b.span,
                    &o.field("broker"),
                    "a synchronous channel has no broker",
                );
            }
        }
        let timeout_ms = o.opt_f64(cx, "timeout_ms", 0.001, 3.6e6).unwrap_or(1000.0);
        let retries = o.opt_u64(cx, "retries", 0, 100).unwrap_or(0);
        let backoff_ms = o.opt_f64(cx, "backoff_ms", 0.0, 3.6e6).unwrap_or(50.0);
        let span = o.span;
        o.finish(cx);
        Some(Channel {
            name: name?.0,
            kind: kind?,
            delivery,
            broker,
            timeout_ms,
            retries: u32::try_from(retries).unwrap_or(u32::MAX),
            backoff_ms,
            span,
        })
    }
}
