//! `fusebench-gui [SCENARIO]`: the workbench window (also `fusebench gui`).

use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "fusebench-gui", version, about = "fusebench's desktop workbench")]
struct Cli {
    #[command(flatten)]
    args: fusebench_gui::GuiArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match fusebench_gui::launch(&cli.args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
