//! Decentralised data (seed §2.3): Data(s_i) ∩ Data(s_k) = ∅. A store written (owned) by two
//! services is an error; a service reading another's store is reported separately, as a warning,
//! because read-only sharing couples schemas but does not break ownership.

use std::collections::BTreeMap;

use super::Findings;
use crate::scenario::NameRef;

pub(super) const ID: &str = "data-ownership";
pub(super) const SHARED_READ_ID: &str = "data-shared-read";

pub(super) fn check(f: &mut Findings<'_>) {
    let s = f.s;
    let mut owners: BTreeMap<&str, Vec<(&str, &NameRef)>> = BTreeMap::new();
    for svc in &s.services {
        for d in &svc.owns {
            owners.entry(d.name.as_str()).or_default().push((svc.name.as_str(), d));
        }
    }
    for (store, list) in &owners {
        if list.len() > 1 {
            let names: Vec<&str> = list.iter().map(|(n, _)| *n).collect();
            for (_, r) in &list[1..] {
                f.error(ID, r.span, format!("store `{store}` is owned by {} services ({}): Data(s_i) ∩ Data(s_k) must be empty", list.len(), names.join(", ")))
                    .hint = Some("give each service its own store, and share data through an endpoint or an event".into());
            }
        }
    }
    for svc in &s.services {
        for r in &svc.reads {
            match owners.get(r.name.as_str()) {
                Some(list) if list.iter().any(|(n, _)| *n == svc.name) => {
                    f.warning(
                        SHARED_READ_ID,
                        r.span,
                        format!(
                            "`{}` lists store `{}` in both `owns` and `reads`",
                            svc.name, r.name
                        ),
                    );
                }
                Some(list) => {
                    let owner = list.first().map_or("", |(n, _)| *n);
                    f.warning(SHARED_READ_ID, r.span, format!("`{}` reads store `{}`, owned by `{owner}` (read-only sharing couples their schemas)", svc.name, r.name));
                }
                None => {}
            }
        }
    }
}
