//! Dependency cycles. A cycle of synchronous calls can deadlock or amplify load (each waits on
//! the next); a cycle through async channels is legal but worth a look (message storms).

use super::Findings;
use crate::graph::{Dependency, ServiceGraph};

pub(super) const SYNC_ID: &str = "sync-cycle";
pub(super) const ASYNC_ID: &str = "async-cycle";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    let graph = ServiceGraph::new(s);
    let sync = graph.cycles(&[Dependency::Sync]);
    for cycle in &sync {
        let span = s.service(&cycle[0]).map(|x| x.span).unwrap_or_default();
        f.error(SYNC_ID, span, format!("synchronous call cycle among {}", cycle.join(" ↔ ")))
            .hint = Some("break it with an async channel, or merge the services".into());
    }
    for cycle in graph.cycles(&[Dependency::Sync, Dependency::Async]) {
        if sync.contains(&cycle) {
            continue;
        }
        let span = s.service(&cycle[0]).map(|x| x.span).unwrap_or_default();
        f.warning(
            ASYNC_ID,
            span,
            format!("dependency cycle through async channels among {}", cycle.join(" ↔ ")),
        );
    }
}
