//! `fusebench inspect FILE [--json]`: a module's structure (T, F, M, G, E, I), validated.
//!
//! The text report is for people reading a terminal; `--json` is the same `ModuleInfo` for
//! scripts and tests. An invalid module is bad input: exit 2 with the validator's offset.
//! Every name from the module (name section, producers, imports, exports, custom sections) is
//! printed through `text::plain` (`text::json` for `--json`): a module is untrusted input, and a
//! raw control sequence in its name would act on the reader's terminal.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use fusebench_model::module::{self, ExternKind, ModuleInfo};
use fusebench_model::text::{self, plain};

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// A `.wasm` or `.wat` file.
    pub file: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InspectArgs) -> anyhow::Result<ExitCode> {
    let file = args.file.display().to_string();
    let bytes = crate::load::read_input(&args.file, crate::load::Input::Module)?;
    let binary = module::module_bytes(&file, &bytes).with_context(|| file.clone())?;
    let info = module::inspect(&binary).with_context(|| file.clone())?;

    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = if args.json {
        serde_json::to_string_pretty(&info)
            .map_err(io::Error::from)
            .and_then(|json| writeln!(out, "{}", text::json(&json)))
    } else {
        report(&mut out, &file, &info)
    };
    match written.and_then(|()| out.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // `inspect x.wasm | head` closing the pipe early is the reader's choice, not a failure.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(err) => Err(err).context("cannot write the report to stdout"),
    }
}

fn report(out: &mut impl Write, file: &str, info: &ModuleInfo) -> io::Result<()> {
    writeln!(out, "file   {}", plain(file))?;
    writeln!(out, "size   {} bytes", info.size_bytes)?;
    writeln!(out, "valid  yes (core module)")?;
    if let Some(name) = &info.name {
        writeln!(out, "name   {}", plain(name))?;
    }
    for producer in &info.producers {
        let (field, name) = (plain(&producer.field), plain(&producer.name));
        writeln!(out, "built  {field}: {name} {}", plain(&producer.version))?;
    }
    for warning in &info.warnings {
        writeln!(out, "warning: {}", plain(warning))?;
    }
    types_report(out, info)?;
    functions_report(out, info)?;
    memories_report(out, info)?;
    globals_report(out, info)?;
    exports_report(out, info)?;
    imports_report(out, info)?;
    others_report(out, info)?;
    sections_report(out, info)
}

fn types_report(out: &mut impl Write, info: &ModuleInfo) -> io::Result<()> {
    writeln!(out, "\nT  types ({})", info.types.len())?;
    for (index, sig) in info.types.iter().enumerate() {
        writeln!(out, "   [{index}] {sig}")?;
    }
    Ok(())
}

fn functions_report(out: &mut impl Write, info: &ModuleInfo) -> io::Result<()> {
    let imported = info.imported_func_count();
    let defined = info.functions.len() - imported;
    writeln!(
        out,
        "\nF  functions ({}: {imported} imported, {defined} defined)",
        info.functions.len()
    )?;
    for f in &info.functions {
        write!(out, "   [{}]", f.index)?;
        if let Some(name) = &f.name {
            write!(out, " ${}", plain(name))?;
        }
        write!(out, " {}", f.sig)?;
        if f.imported {
            write_import(out, info, ExternKind::Func, f.index)?;
        }
        for export in &f.export_names {
            write!(out, "  export \"{}\"", plain(export))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// Names the import behind an imported entry, so a reader need not cross-reference section I.
fn write_import(
    out: &mut impl Write,
    info: &ModuleInfo,
    kind: ExternKind,
    index: u32,
) -> io::Result<()> {
    match info.imports.iter().find(|i| i.kind == kind && i.index == index) {
        Some(import) => write!(out, "  import {}.{}", plain(&import.module), plain(&import.name)),
        None => write!(out, "  imported"),
    }
}

fn memories_report(out: &mut impl Write, info: &ModuleInfo) -> io::Result<()> {
    writeln!(out, "\nM  memories ({})", info.memories.len())?;
    for m in &info.memories {
        let max = m.max_pages.map_or_else(|| "none".to_owned(), |max| max.to_string());
        write!(out, "   [{}] pages min {} max {max}", m.index, m.min_pages)?;
        write!(out, "  {}", if m.memory64 { "64-bit" } else { "32-bit" })?;
        if m.shared {
            write!(out, "  shared")?;
        }
        if m.imported {
            write_import(out, info, ExternKind::Memory, m.index)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn globals_report(out: &mut impl Write, info: &ModuleInfo) -> io::Result<()> {
    writeln!(out, "\nG  globals ({})", info.globals.len())?;
    for g in &info.globals {
        let mutability = if g.mutable { "mut" } else { "const" };
        write!(out, "   [{}]", g.index)?;
        if let Some(name) = &g.name {
            write!(out, " ${}", plain(name))?;
        }
        write!(out, " {mutability} {}", g.val_type)?;
        if g.imported {
            write_import(out, info, ExternKind::Global, g.index)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn exports_report(out: &mut impl Write, info: &ModuleInfo) -> io::Result<()> {
    writeln!(out, "\nE  exports ({})", info.exports.len())?;
    for e in &info.exports {
        write!(out, "   \"{}\" {} {}", plain(&e.name), e.kind, e.index)?;
        if let Some(sig) = &e.sig {
            write!(out, "  {sig}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn imports_report(out: &mut impl Write, info: &ModuleInfo) -> io::Result<()> {
    writeln!(out, "\nI  imports ({})", info.imports.len())?;
    for i in &info.imports {
        write!(out, "   {}.{} {} {}", plain(&i.module), plain(&i.name), i.kind, i.index)?;
        if let Some(sig) = &i.sig {
            write!(out, "  {sig}")?;
        }
        writeln!(out)?;
    }
    Ok(())
}

fn others_report(out: &mut impl Write, info: &ModuleInfo) -> io::Result<()> {
    writeln!(out, "\ntables ({})", info.tables.len())?;
    for t in &info.tables {
        let max = t.max.map_or_else(|| "none".to_owned(), |max| max.to_string());
        write!(out, "   [{}] {} min {} max {max}", t.index, t.element, t.min)?;
        if t.imported {
            write_import(out, info, ExternKind::Table, t.index)?;
        }
        writeln!(out)?;
    }
    if !info.tags.is_empty() {
        writeln!(out, "tags ({})", info.tags.len())?;
        for t in &info.tags {
            write!(out, "   [{}] {}", t.index, t.sig)?;
            if t.imported {
                write_import(out, info, ExternKind::Tag, t.index)?;
            }
            writeln!(out)?;
        }
    }
    match info.start {
        Some(start) => writeln!(out, "start function: {start}")?,
        None => writeln!(out, "start function: none")?,
    }
    writeln!(out, "data segments: {}", info.data_segments)?;
    writeln!(out, "element segments: {}", info.element_segments)?;
    writeln!(out, "custom sections ({})", info.custom_sections.len())?;
    for c in &info.custom_sections {
        writeln!(out, "   {} ({} bytes)", plain(&c.name), c.size_bytes)?;
    }
    Ok(())
}

fn sections_report(out: &mut impl Write, info: &ModuleInfo) -> io::Result<()> {
    writeln!(out, "\nsections ({})", info.sections.len())?;
    writeln!(out, "   {:>2}  {:<10} {:>10} {:>10}  count", "id", "name", "offset", "size")?;
    for s in &info.sections {
        write!(out, "   {:>2}  {:<10} {:>#10x} {:>10}", s.id, s.name, s.offset, s.size_bytes)?;
        if let Some(count) = s.count {
            write!(out, "  {count}")?;
        }
        if let Some(name) = &s.custom_name {
            write!(out, "  \"{}\"", plain(name))?;
        }
        writeln!(out)?;
    }
    Ok(())
}
