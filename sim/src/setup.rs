//! From a loaded scenario to a ready host: every service loaded into one wasmi [`Runtime`] with
//! the grants, permissions and limits the scenario declares, from the module bytes
//! [`crate::load`] read. Also the one rule for whether a scenario can be run at all.

use std::collections::BTreeMap;

use fusebench_model::Scenario;
use fusebench_model::capability::Capability;
use fusebench_model::checks::{self, CheckOutcome};
use fusebench_model::scenario::{FaultKind, FaultTarget, InstancePolicy, ScalePolicy, StoreKind};

use crate::load::Loaded;
use crate::runtime::{
    self, CallTarget, LibraryModule, Permissions, Runtime, RuntimeConfig, ServiceConfig,
    ServiceLimits, ServiceLoadError,
};

/// Why a scenario's services could not be made ready.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    #[error("service `{service}` names module `{module}`, which was not provided")]
    Missing { service: String, module: String },
    #[error(transparent)]
    Load(#[from] ServiceLoadError),
}

/// Module bytes keyed by the `module` path as written in the scenario.
pub type ModuleFiles = BTreeMap<String, Vec<u8>>;

/// Why a loaded scenario cannot be simulated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NotRunnable {
    #[error("the scenario has no workload: nothing to run")]
    NoWorkload,
    #[error("a module failed its static checks, so the system cannot be run")]
    ModuleChecksFailed,
    /// The host refused a module the static checks passed (bad input).
    #[error(transparent)]
    Rejected(#[from] SetupError),
}

/// Whether `loaded` can be simulated, given its static `outcomes`
/// ([`fusebench_model::checks::outcomes`]): it has a workload, its modules pass their static
/// checks, and the host loads every one. The one rule the CLI and the GUI both apply.
///
/// # Errors
/// The first reason it cannot, in that order.
pub fn runnable(loaded: &Loaded, outcomes: &[CheckOutcome]) -> Result<(), NotRunnable> {
    if loaded.scenario.workload.is_none() {
        return Err(NotRunnable::NoWorkload);
    }
    if checks::module_check_failed(outcomes) {
        return Err(NotRunnable::ModuleChecksFailed);
    }
    build_runtime(&loaded.scenario, &loaded.files)?;
    Ok(())
}

/// The host configuration of one service, from the scenario.
#[must_use]
pub fn service_config(s: &Scenario, name: &str) -> Option<ServiceConfig> {
    let svc = s.service(name)?;
    let kind = |store: &str| s.store(store).map(|d| d.kind);
    let mut permissions = Permissions::default();
    for d in &svc.owns {
        match kind(&d.name) {
            Some(StoreKind::Cache) => permissions.caches_owned.insert(d.name.clone()),
            _ => permissions.kv_owned.insert(d.name.clone()),
        };
    }
    for d in &svc.reads {
        match kind(&d.name) {
            Some(StoreKind::Cache) => permissions.caches_readable.insert(d.name.clone()),
            _ => permissions.kv_readable.insert(d.name.clone()),
        };
    }
    permissions.publishes = svc.publishes.iter().map(|c| c.name.clone()).collect();
    permissions.calls = svc
        .calls
        .iter()
        .map(|c| CallTarget::new(c.service.name.clone(), c.endpoint.name.clone()))
        .collect();
    let mut config = ServiceConfig::new(svc.name.clone());
    config.capabilities = svc.capabilities.clone();
    config.endpoints = svc.endpoints.iter().map(|e| e.name.clone()).collect();
    config.limits = ServiceLimits {
        fuel_per_invocation: s.fuel_budget(svc),
        memory_bytes_max: usize::try_from(s.memory_max_kib(svc).saturating_mul(1024))
            .unwrap_or(usize::MAX),
    };
    config.policy = match svc.instance_policy {
        InstancePolicy::PerRequest => runtime::InstancePooling::PerRequest,
        InstancePolicy::Pooled => runtime::InstancePooling::Pooled {
            idle_max: (svc.concurrency as usize).max(1) * svc.replicas as usize,
        },
    };
    config.permissions = permissions;
    config.links = svc.links.iter().map(|l| l.name.clone()).collect();
    Some(config)
}

/// A composed service's libraries with their bytes, in instantiation order (see
/// [`Scenario::composition`]).
struct Composition<'a> {
    libraries: Vec<(&'a str, Vec<String>, &'a [u8])>,
}

impl<'a> Composition<'a> {
    fn of(s: &'a Scenario, service: &str, files: &'a ModuleFiles) -> Result<Self, SetupError> {
        let Some(svc) = s.service(service) else {
            return Ok(Composition { libraries: Vec::new() });
        };
        let mut libraries = Vec::new();
        for lib in s.composition(svc) {
            let bytes = files.get(&lib.module.name).ok_or_else(|| SetupError::Missing {
                service: service.to_owned(),
                module: lib.module.name.clone(),
            })?;
            let links = lib.links.iter().map(|l| l.name.clone()).collect();
            libraries.push((lib.name.as_str(), links, bytes.as_slice()));
        }
        Ok(Composition { libraries })
    }

    fn modules(&self) -> Vec<LibraryModule<'_>> {
        self.libraries
            .iter()
            .map(|(name, links, bytes)| LibraryModule { name, links, bytes })
            .collect()
    }
}

/// Loads every service with a module (and every module-swap replacement, as
/// `<service>@swap<fault index>`, and every rollout's new module, as
/// `<service>@rollout<rollout index>`) into a fresh runtime.
///
/// # Errors
/// A module that is missing from `files` or that the host rejects (see [`ServiceLoadError`]).
pub fn build_runtime(s: &Scenario, files: &ModuleFiles) -> Result<Runtime, SetupError> {
    let mut rt = Runtime::new(&RuntimeConfig::default());
    for svc in &s.services {
        let Some(module) = &svc.module else { continue };
        let bytes = files.get(&module.name).ok_or_else(|| SetupError::Missing {
            service: svc.name.clone(),
            module: module.name.clone(),
        })?;
        let Some(config) = service_config(s, &svc.name) else { continue };
        let composition = Composition::of(s, &svc.name, files)?;
        rt.load_composed(&config, bytes, &composition.modules())?;
    }
    for (i, f) in s.faults.iter().enumerate() {
        if let (FaultKind::ModuleSwap { module }, FaultTarget::Service { service, .. }) =
            (&f.kind, &f.target)
        {
            let bytes = files.get(&module.name).ok_or_else(|| SetupError::Missing {
                service: service.name.clone(),
                module: module.name.clone(),
            })?;
            if let Some(mut config) = service_config(s, &service.name) {
                config.name = format!("{}@swap{i}", service.name);
                let composition = Composition::of(s, &service.name, files)?;
                rt.load_composed(&config, bytes, &composition.modules())?;
            }
        }
    }
    for (i, r) in s.rollouts.iter().enumerate() {
        let bytes = files.get(&r.module.name).ok_or_else(|| SetupError::Missing {
            service: r.service.name.clone(),
            module: r.module.name.clone(),
        })?;
        if let Some(mut config) = service_config(s, &r.service.name) {
            config.name = crate::system::rollout_runtime_name(&r.service.name, i);
            // A composed service's new version links the same libraries.
            let composition = Composition::of(s, &r.service.name, files)?;
            rt.load_composed(&config, bytes, &composition.modules())?;
        }
    }
    // A version subset with replicas of its own runs its module (default: the declared one)
    // under its own name (`mesh/route.rs`).
    let subsets = s.mesh.iter().flat_map(|m| m.subsets.iter().enumerate());
    for (i, sub) in subsets.filter(|(_, x)| x.replicas.is_some()) {
        let Some(svc) = s.service(&sub.service.name) else { continue };
        let Some(module) = sub.module.as_ref().or(svc.module.as_ref()) else { continue };
        let bytes = files.get(&module.name).ok_or_else(|| SetupError::Missing {
            service: svc.name.clone(),
            module: module.name.clone(),
        })?;
        if let Some(mut config) = service_config(s, &svc.name) {
            config.name = crate::system::subset_runtime_name(&svc.name, i);
            let composition = Composition::of(s, &svc.name, files)?;
            rt.load_composed(&config, bytes, &composition.modules())?;
        }
    }
    for (config, module) in policy_configs(s) {
        let bytes = files.get(&module).ok_or_else(|| SetupError::Missing {
            service: config.name.clone(),
            module: module.clone(),
        })?;
        rt.load_service(&config, bytes)?;
    }
    for (config, module) in filter_configs(s, files) {
        let bytes = files.get(&module).ok_or_else(|| SetupError::Missing {
            service: config.name.clone(),
            module: module.clone(),
        })?;
        rt.load_service(&config, bytes)?;
    }
    Ok(rt)
}

/// The host configuration of each scaling policy module (loaded as `policy:<service>`, see
/// [`crate::system::policy_runtime_name`]) and its module's path: `log` only, the quality's
/// fuel and memory limits, a fresh instance per decision (nothing but its input decides).
fn policy_configs(s: &Scenario) -> Vec<(ServiceConfig, String)> {
    s.services
        .iter()
        .filter_map(|svc| match &svc.autoscale.as_ref()?.policy {
            ScalePolicy::Module(m) => Some((svc, m)),
            _ => None,
        })
        .map(|(svc, m)| {
            let mut config = ServiceConfig::new(crate::system::policy_runtime_name(&svc.name));
            config.capabilities = std::collections::BTreeSet::from([Capability::Log]);
            config.endpoints =
                std::collections::BTreeSet::from([crate::system::POLICY_ENDPOINT.to_owned()]);
            config.limits = ServiceLimits {
                fuel_per_invocation: s.quality.fuel_budget,
                memory_bytes_max: usize::try_from(s.quality.memory_max_kib.saturating_mul(1024))
                    .unwrap_or(usize::MAX),
            };
            config.policy = runtime::InstancePooling::PerRequest;
            (config, m.module.name.clone())
        })
        .collect()
}

/// The host configuration of each mesh filter, declared or pushed (loaded as
/// `filter:<name>`, a pushed one as `filter:<name>@push<i>`, see
/// [`crate::system::filter_runtime_name_of`]) and its module's path: its grants, the quality's
/// fuel and memory limits unless it sets its own, one pooled instance (state carries from
/// request to request until a fault drops it), and endpoints `request` plus `response` when
/// the module exports `handle_response`.
fn filter_configs(s: &Scenario, files: &ModuleFiles) -> Vec<(ServiceConfig, String)> {
    let Some(mesh) = &s.mesh else { return Vec::new() };
    mesh.every_filter()
        .map(|f| {
            let mut config = ServiceConfig::new(crate::system::filter_runtime_name_of(f));
            config.capabilities = f.capabilities.clone();
            config.endpoints = std::collections::BTreeSet::from(["request".to_owned()]);
            let exports_response = files.get(&f.module.name).is_some_and(|bytes| {
                fusebench_model::module::module_bytes(&f.module.name, bytes)
                    .ok()
                    .and_then(|wasm| fusebench_model::module::inspect(&wasm).ok())
                    .is_some_and(|info| info.export_func(checks::RESPONSE_HANDLER).is_some())
            });
            if exports_response {
                config.endpoints.insert("response".to_owned());
            }
            config.limits = ServiceLimits {
                fuel_per_invocation: f.fuel_budget.unwrap_or(s.quality.fuel_budget),
                memory_bytes_max: usize::try_from(
                    f.memory_max_kib.unwrap_or(s.quality.memory_max_kib).saturating_mul(1024),
                )
                .unwrap_or(usize::MAX),
            };
            config.policy = runtime::InstancePooling::Pooled { idle_max: 1 };
            (config, f.module.name.clone())
        })
        .collect()
}
