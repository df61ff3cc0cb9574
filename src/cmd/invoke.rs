//! `fusebench invoke SCENARIO SERVICE ENDPOINT --data JSON [--store-init FILE] [--json]`:
//! one request through a service's real module, with in-memory stores.
//!
//! What the guest returns, logs, publishes and stores is untrusted: printed through
//! `text::plain` (`text::json` for JSON). Error messages stay raw: `main` escapes them once.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use fusebench_model::text::{self, plain};
use fusebench_sim::invoke::{Stores, initial_stores, invoke};
use fusebench_sim::setup;

use crate::load::{Input, load_or_report, read_text};

#[derive(Debug, clap::Args)]
pub struct InvokeArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// The service to invoke.
    pub service: String,
    /// One of its endpoints.
    pub endpoint: String,
    /// The request, as JSON.
    #[arg(long)]
    pub data: String,
    /// Initial store contents, a JSON file: {"store": {"key": value, ...}, ...}; a string value
    /// is stored as is, anything else as its JSON text. Applied over the scenario's `init`.
    #[arg(long)]
    pub store_init: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

fn read_store_init(path: &Path, stores: &mut Stores) -> anyhow::Result<()> {
    let text = read_text(path, Input::StoreInit)?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{}: not valid JSON", path.display()))?;
    let Some(map) = json.as_object() else {
        bail!("{}: expected an object of stores", path.display())
    };
    for (store, entries) in map {
        let Some(entries) = entries.as_object() else {
            bail!("{}: store `{store}` must map keys to values", path.display())
        };
        let data = stores.entry(store.clone()).or_default();
        for (k, v) in entries {
            data.insert(k.clone().into_bytes(), fusebench_model::scenario::stored_bytes(v));
        }
    }
    Ok(())
}

pub fn run(args: &InvokeArgs) -> anyhow::Result<ExitCode> {
    let Some(loaded) = load_or_report(&args.scenario, "nothing was invoked")? else {
        return Ok(ExitCode::from(2));
    };
    if !super::modules_loadable(&loaded, &args.scenario, "nothing was invoked") {
        return Ok(ExitCode::from(2));
    }
    let s = &loaded.scenario;
    let Some(svc) = s.service(&args.service) else {
        let names: Vec<&str> = s.services.iter().map(|x| x.name.as_str()).collect();
        bail!(
            "no service `{}` in {} (services: {})",
            args.service,
            args.scenario.display(),
            names.join(", ")
        );
    };
    if svc.endpoint(&args.endpoint).is_none() {
        let names: Vec<&str> = svc.endpoints.iter().map(|e| e.name.as_str()).collect();
        bail!(
            "service `{}` has no endpoint `{}` (endpoints: {})",
            args.service,
            args.endpoint,
            names.join(", ")
        );
    }
    if svc.module.is_none() {
        bail!("service `{}` is abstract (no module): there is no code to invoke", args.service);
    }
    let request: serde_json::Value =
        serde_json::from_str(&args.data).context("--data is not valid JSON")?;
    let mut runtime = setup::build_runtime(s, &loaded.files)?;
    let mut stores = initial_stores(s);
    if let Some(path) = &args.store_init {
        read_store_init(path, &mut stores)?;
    }
    let body = serde_json::to_vec(&request)?;
    let result = invoke(s, &mut runtime, &args.service, &args.endpoint, &body, &mut stores)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", text::json(&serde_json::to_string_pretty(&result)?))?;
    } else {
        let (service, endpoint) = (plain(&result.service), plain(&result.endpoint));
        writeln!(out, "{service}.{endpoint}  {}", text::json(&request.to_string()))?;
        match &result.response {
            Some(r) => writeln!(out, "response: {}", text::json(&r.to_string()))?,
            None => writeln!(out, "response: none")?,
        }
        if let Some(p) = &result.problem {
            writeln!(out, "problem:  {}", plain(p))?;
        }
        writeln!(
            out,
            "fuel:     {} (+{} in called services)",
            result.fuel, result.fuel_downstream
        )?;
        writeln!(out, "host operations:")?;
        for op in &result.ops {
            let indent = "  ".repeat(op.depth + 1);
            let key = op.key.as_deref().map(|k| format!(" {}", plain(k))).unwrap_or_default();
            let (svc, target, result) = (plain(&op.service), plain(&op.target), plain(&op.result));
            writeln!(out, "{indent}{svc}: {} {target}{key} -> {result}", op.op)?;
        }
        if !result.published.is_empty() {
            writeln!(out, "published (not delivered by invoke):")?;
            for (channel, msg) in &result.published {
                writeln!(out, "  {}: {}", plain(channel), plain(msg))?;
            }
        }
        writeln!(out, "store changes:")?;
        for c in &result.changes {
            let show =
                |v: Option<&str>| v.map_or_else(|| "(none)".to_owned(), |x| plain(x).into_owned());
            let (store, key) = (plain(&c.store), plain(&c.key));
            let (before, after) = (show(c.before.as_deref()), show(c.after.as_deref()));
            writeln!(out, "  {store}/{key}: {before} -> {after}")?;
        }
        for l in &result.logs {
            writeln!(out, "log: {}", plain(l))?;
        }
    }
    Ok(if result.problem.is_some() { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
