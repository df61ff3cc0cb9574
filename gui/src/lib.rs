//! fusebench's desktop workbench: the service graph of a scenario, its static findings, runs
//! with live plots, the dynamic properties with their counterexamples replayed on a timeline,
//! and what-if edits compared run against run.
//!
//! # Layering
//!
//! The UI draws state that lives in `fusebench-model` and `fusebench-sim` and never decides a
//! simulation rule itself. [`workbench::Workbench`] holds the state (open scenario, run,
//! exploration, counterexample, baseline run); panels in [`panels`] are `*_ui` functions that
//! read it and push [`command::Command`]s, which [`app::App`] applies between frames.

pub mod app;
pub mod check;
pub mod command;
pub mod diagram;
pub mod export;
pub mod findings;
pub mod layout;
pub mod live;
pub mod mesh_activity;
pub mod mesh_config;
pub mod panels;
pub mod recent;
pub mod rollout_activity;
pub mod script;
pub mod session;
pub mod synthetic;
pub mod theme;
pub mod timeline;
pub mod view;
pub mod workbench;

use std::path::PathBuf;

pub use app::App;

/// `fusebench gui [SCENARIO]` and `fusebench-gui [SCENARIO]`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GuiArgs {
    /// The scenario file (TOML) to open.
    pub scenario: Option<PathBuf>,
    /// Select this service or store first (for screenshots).
    #[arg(long, value_name = "NAME")]
    pub select: Option<String>,
    /// Run the simulation to its end first (for screenshots).
    #[arg(long)]
    pub run: bool,
    /// Check the dynamic properties first, with this many cases (for screenshots).
    #[arg(long, value_name = "CASES")]
    pub check: Option<usize>,
    /// Open the counterexample of the check and replay it to this fraction of the run.
    #[arg(long, value_name = "FRACTION")]
    pub counterexample: Option<f64>,
    /// Capture the window into this PNG file once the steps above are done, then quit.
    #[arg(long, value_name = "PNG")]
    pub screenshot: Option<PathBuf>,
    /// Window size in points, WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", default_value = "1600x1000", value_parser = parse_size)]
    pub size: (f32, f32),
}

fn parse_size(s: &str) -> Result<(f32, f32), String> {
    let (w, h) = s.split_once('x').ok_or_else(|| format!("`{s}` is not WIDTHxHEIGHT"))?;
    let num = |v: &str| {
        v.parse::<f32>()
            .ok()
            .filter(|x| (200.0..=8000.0).contains(x))
            .ok_or_else(|| format!("`{v}` is not a size between 200 and 8000"))
    };
    Ok((num(w)?, num(h)?))
}

impl GuiArgs {
    /// The scripted steps these arguments ask for, in order.
    #[must_use]
    pub fn steps(&self) -> Vec<script::Action> {
        use script::Action;
        let mut steps = Vec::new();
        if let Some(n) = &self.select {
            steps.push(Action::Select(n.clone()));
        }
        if self.run {
            steps.push(Action::Run);
        }
        if let Some(cases) = self.check {
            steps.push(Action::Check(cases));
        }
        if let Some(f) = self.counterexample {
            if self.check.is_none() {
                steps.push(Action::Check(8));
            }
            steps.push(Action::Counterexample(f));
        }
        if let Some(p) = &self.screenshot {
            steps.push(Action::Screenshot(p.clone()));
        }
        steps
    }
}

/// Opens the workbench window and runs until it is closed.
///
/// # Errors
/// No window could be opened (no display), or a screenshot could not be written.
pub fn launch(args: &GuiArgs) -> Result<(), String> {
    let (w, h) = args.size;
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_inner_size([w, h])
            .with_title("fusebench"),
        ..eframe::NativeOptions::default()
    };
    let steps = args.steps();
    let scripted = !steps.is_empty();
    let scenario = args.scenario.clone();
    let saved = std::sync::Arc::new(std::sync::Mutex::new(None));
    let saved_app = saved.clone();
    eframe::run_native(
        "fusebench",
        options,
        Box::new(move |cc| {
            // Scripted runs (screenshots) leave the user's recent-files list alone.
            let recent = if scripted {
                recent::Recent::default()
            } else {
                recent::Recent::from_config_dir()
            };
            let mut app = App::new(&cc.egui_ctx, scenario.as_deref(), recent);
            if scripted {
                let mut script = script::Script::new(steps);
                script.saved = saved_app;
                app.script = Some(script);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| format!("cannot open the workbench window: {e}"))?;
    let result = saved.lock().ok().and_then(|mut s| s.take());
    match (result, &args.screenshot) {
        (Some(Err(e)), _) => Err(e),
        (None, Some(p)) => Err(format!("the window closed before {} was captured", p.display())),
        _ => Ok(()),
    }
}
