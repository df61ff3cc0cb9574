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
        let path = graph.cycle_path(&[Dependency::Sync], cycle);
        let shown = if path.len() > 2 && path.len() < cycle.len() + 1 {
            format!("{} (and more, among {})", path.join(" → "), cycle.join(", "))
        } else if path.len() > 1 {
            path.join(" → ")
        } else {
            cycle.join(" ↔ ")
        };
        f.error(SYNC_ID, span, format!("synchronous call cycle {shown}")).hint =
            Some("break it with an async channel, or merge the services".into());
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

#[cfg(test)]
mod tests {
    use super::SYNC_ID;
    use crate::checks::fixture::{findings, front_calls_back};

    #[test]
    fn a_sync_cycle_is_named_in_call_order() {
        let back_calls_front = "  [[service.call]]\n  service = \"front\"\n  endpoint = \"go\"\n  channel = \"rest\"\n";
        let found = findings(&front_calls_back(back_calls_front, ""), SYNC_ID);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(found[0].message, "synchronous call cycle back → front → back");
        // A third service in a second loop through `back`: the shortest cycle from the first
        // member is named, and the component's members after it.
        let two_loops = format!(
            "{back_calls_front}  [[service.call]]\n  service = \"zeta\"\n  endpoint = \"log\"\n  channel = \"rest\"\n[[service]]\nname = \"zeta\"\ncontext = \"c\"\nnode = \"n\"\nservice_time = {{ distribution = {{ dist = \"constant\", ms = 1.0 }} }}\n  [[service.endpoint]]\n  name = \"log\"\n  [[service.call]]\n  service = \"back\"\n  endpoint = \"get\"\n  channel = \"rest\"\n"
        );
        let found = findings(&front_calls_back(&two_loops, ""), SYNC_ID);
        assert_eq!(found.len(), 1, "{found:#?}");
        assert_eq!(
            found[0].message,
            "synchronous call cycle back → front → back (and more, among back, front, zeta)"
        );
    }
}
