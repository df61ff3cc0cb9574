//! From a scenario to a ready host: reading module files and loading every service into one
//! wasmi [`Runtime`] with the grants, permissions and limits the scenario declares.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fusebench_model::Scenario;
use fusebench_model::scenario::{FaultKind, FaultTarget, InstancePolicy, StoreKind};

use crate::runtime::{
    self, CallTarget, LoadError, Permissions, Runtime, RuntimeConfig, ServiceConfig, ServiceLimits,
};

/// Why a scenario's services could not be made ready.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    #[error("cannot read module {path} of service `{service}`: {source}")]
    Read { service: String, path: PathBuf, source: std::io::Error },
    #[error("service `{service}` names module `{module}`, which was not provided")]
    Missing { service: String, module: String },
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Module bytes keyed by the `module` path as written in the scenario.
pub type ModuleFiles = BTreeMap<String, Vec<u8>>;

/// Reads every module the scenario names (services and module swaps), relative to `base`.
///
/// # Errors
/// A module file that cannot be read.
pub fn read_modules(s: &Scenario, base: &Path) -> Result<ModuleFiles, SetupError> {
    let mut files = ModuleFiles::new();
    let wanted = s
        .services
        .iter()
        .filter_map(|x| x.module.as_ref().map(|m| (x.name.as_str(), m.name.as_str())))
        .chain(s.faults.iter().filter_map(|f| match (&f.kind, &f.target) {
            (FaultKind::ModuleSwap { module }, FaultTarget::Service { service, .. }) => {
                Some((service.name.as_str(), module.name.as_str()))
            }
            _ => None,
        }));
    for (service, module) in wanted {
        if files.contains_key(module) {
            continue;
        }
        let path = base.join(module);
        // The one place sim/ reads files: everything after setup runs on the bytes it is handed.
        #[allow(clippy::disallowed_methods)]
        let bytes = std::fs::read(&path).map_err(|source| SetupError::Read {
            service: service.to_owned(),
            path,
            source,
        })?;
        files.insert(module.to_owned(), bytes);
    }
    Ok(files)
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
        InstancePolicy::PerRequest => runtime::InstancePolicy::PerRequest,
        InstancePolicy::Pooled => runtime::InstancePolicy::Pooled {
            idle_max: (svc.concurrency as usize).max(1) * svc.replicas as usize,
        },
    };
    config.permissions = permissions;
    Some(config)
}

/// Loads every service with a module (and every module-swap replacement, as
/// `<service>@swap<fault index>`) into a fresh runtime.
///
/// # Errors
/// A module that is missing from `files` or that the host rejects (see [`LoadError`]).
pub fn build_runtime(s: &Scenario, files: &ModuleFiles) -> Result<Runtime, SetupError> {
    let mut rt = Runtime::new(&RuntimeConfig::default());
    for svc in &s.services {
        let Some(module) = &svc.module else { continue };
        let bytes = files.get(&module.name).ok_or_else(|| SetupError::Missing {
            service: svc.name.clone(),
            module: module.name.clone(),
        })?;
        let Some(config) = service_config(s, &svc.name) else { continue };
        rt.load_service(&config, bytes)?;
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
                rt.load_service(&config, bytes)?;
            }
        }
    }
    Ok(rt)
}
