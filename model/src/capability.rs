//! Capabilities: what a service's module may import from its host.
//!
//! The scenario grants each service a set of capabilities; every import of its module must be
//! covered by one of them (seed §3.3, "sandbox isolation"). The mapping from import to capability
//! lives here so that the static check (model) and the loader (sim) agree by construction.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The module namespace every fusebench host function is imported from.
pub const HOST_NAMESPACE: &str = "fusebench";
/// WASI preview 1's namespace; only a deterministic subset is provided (capability `wasi`).
pub const WASI_NAMESPACE: &str = "wasi_snapshot_preview1";

/// One grantable capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `kv_get`, `kv_put`, `kv_delete`, `kv_cas`, `kv_scan`, `kv_get_versioned`,
    /// `kv_cas_version` on key-value stores the service owns (reads — `kv_get`, `kv_scan`,
    /// `kv_get_versioned` — also on stores it is granted read access to).
    Kv,
    /// `cache_get` on caches the service owns or reads; `cache_put`, `cache_delete` on caches it
    /// owns.
    Cache,
    /// `publish` to an async channel the service declares it publishes to.
    Publish,
    /// `call`, `call_timeout`: a synchronous call to another service's endpoint it declares it
    /// calls (`call_timeout` overrides the channel's per-attempt timeout for that call).
    Call,
    /// `log`: a line in the trace.
    Log,
    /// `now`: the virtual clock.
    Clock,
    /// `random`: the service's seeded random stream.
    Random,
    /// The deterministic WASI preview 1 subset (virtual clock, seeded random, stdout to trace).
    Wasi,
}

impl Capability {
    pub const ALL: [Capability; 8] = [
        Capability::Kv,
        Capability::Cache,
        Capability::Publish,
        Capability::Call,
        Capability::Log,
        Capability::Clock,
        Capability::Random,
        Capability::Wasi,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Capability::Kv => "kv",
            Capability::Cache => "cache",
            Capability::Publish => "publish",
            Capability::Call => "call",
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Random => "random",
            Capability::Wasi => "wasi",
        }
    }

    /// The host functions of [`HOST_NAMESPACE`] this capability grants.
    #[must_use]
    pub fn host_functions(self) -> &'static [&'static str] {
        match self {
            Capability::Kv => &[
                "kv_get",
                "kv_put",
                "kv_delete",
                "kv_cas",
                "kv_scan",
                "kv_get_versioned",
                "kv_cas_version",
            ],
            Capability::Cache => &["cache_get", "cache_put", "cache_delete"],
            Capability::Publish => &["publish"],
            Capability::Call => &["call", "call_timeout"],
            Capability::Log => &["log"],
            Capability::Clock => &["now"],
            Capability::Random => &["random"],
            Capability::Wasi => &[],
        }
    }
}

/// The WASI preview 1 functions fusebench provides, each made deterministic.
pub const WASI_SUBSET: &[&str] = &[
    "fd_write",
    "clock_time_get",
    "clock_res_get",
    "random_get",
    "environ_get",
    "environ_sizes_get",
    "args_get",
    "args_sizes_get",
    "proc_exit",
    "sched_yield",
];

/// Functions any module may import without a capability: the AssemblyScript runtime's `abort`
/// (reported as a guest fault, like a trap).
pub const ALWAYS_ALLOWED: &[(&str, &str)] = &[("env", "abort")];

/// What an import needs, or why no capability can grant it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportNeed {
    /// Granted by this capability.
    Capability(Capability),
    /// Needs nothing (see [`ALWAYS_ALLOWED`]).
    Free,
    /// A name in a known namespace that fusebench does not provide (e.g. a WASI call outside
    /// the deterministic subset).
    Unsupported,
    /// A namespace fusebench does not know.
    UnknownNamespace,
}

/// Which capability the function import `module`.`name` requires.
#[must_use]
pub fn import_need(module: &str, name: &str) -> ImportNeed {
    if ALWAYS_ALLOWED.contains(&(module, name)) {
        return ImportNeed::Free;
    }
    match module {
        HOST_NAMESPACE => Capability::ALL
            .into_iter()
            .find(|c| c.host_functions().contains(&name))
            .map_or(ImportNeed::Unsupported, ImportNeed::Capability),
        WASI_NAMESPACE if WASI_SUBSET.contains(&name) => ImportNeed::Capability(Capability::Wasi),
        WASI_NAMESPACE => ImportNeed::Unsupported,
        _ => ImportNeed::UnknownNamespace,
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error for an unknown capability name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown capability `{0}`")]
pub struct UnknownCapability(pub String);

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| UnknownCapability(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_host_function_maps_to_exactly_one_capability() {
        for cap in Capability::ALL {
            for f in cap.host_functions() {
                assert_eq!(import_need(HOST_NAMESPACE, f), ImportNeed::Capability(cap));
            }
        }
        assert_eq!(import_need(HOST_NAMESPACE, "open_socket"), ImportNeed::Unsupported);
        assert_eq!(
            import_need(WASI_NAMESPACE, "fd_write"),
            ImportNeed::Capability(Capability::Wasi)
        );
        assert_eq!(import_need(WASI_NAMESPACE, "path_open"), ImportNeed::Unsupported);
        assert_eq!(import_need("env", "abort"), ImportNeed::Free);
        assert_eq!(import_need("env", "system"), ImportNeed::UnknownNamespace);
    }

    #[test]
    fn the_host_operations_of_issue_13_need_the_capability_of_their_family() {
        // A scan is a read of the store (as `kv_get`), an invalidation a write of the cache (as
        // `cache_put`), a call with its own timeout still a call.
        for (import, cap) in [
            ("kv_scan", Capability::Kv),
            ("kv_delete", Capability::Kv),
            ("kv_cas", Capability::Kv),
            ("kv_get_versioned", Capability::Kv),
            ("kv_cas_version", Capability::Kv),
            ("cache_delete", Capability::Cache),
            ("call_timeout", Capability::Call),
        ] {
            assert_eq!(
                import_need(HOST_NAMESPACE, import),
                ImportNeed::Capability(cap),
                "{import}"
            );
        }
        assert_eq!(import_need(HOST_NAMESPACE, "kv_scan_all"), ImportNeed::Unsupported);
    }

    #[test]
    fn names_round_trip() {
        for cap in Capability::ALL {
            assert_eq!(cap.name().parse::<Capability>(), Ok(cap));
        }
        assert!("network".parse::<Capability>().is_err());
    }
}
