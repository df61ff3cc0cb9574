//! Reading input: the one place fusebench reads a file a user hands it (a scenario, its
//! modules, a store-init file, a replay file), shared by the CLI and the GUI so both refuse the
//! same things the same way.
//!
//! Inputs are untrusted. [`read_input`] reads only regular files, refuses a device, FIFO,
//! socket or directory by name before opening it (reading `/dev/zero` never ends, opening a
//! FIFO blocks), and refuses a file over its kind's size limit without reading it whole.
//! [`load`] then reads a scenario and every module it names exactly once: the [`Loaded`]
//! scenario carries the module bytes, and everything later (static checks, the runtime, runs,
//! replays) works on those bytes.

use std::fmt;
use std::fs::{File, FileType};
use std::io::Read as _;
use std::path::{Path, PathBuf};

use fusebench_model::checks::Modules;
use fusebench_model::scenario::{FaultKind, FaultTarget, ScalePolicy};
use fusebench_model::{Diagnostic, Scenario, module};

use crate::setup::ModuleFiles;

/// The kinds of input file, each with its own size limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Input {
    /// A scenario (TOML text).
    Scenario,
    /// A WebAssembly module (`.wasm` binary or `.wat` text).
    Module,
    /// `fusebench invoke --store-init` (JSON).
    StoreInit,
    /// A replay file written by `fusebench check` (JSON).
    Replay,
    /// A shard file written by `fusebench check --shard` or `run --shard` (JSON).
    Shard,
}

const MIB: u64 = 1 << 20;

impl Input {
    /// What the input is called in messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Input::Scenario => "scenario",
            Input::Module => "module",
            Input::StoreInit => "store-init file",
            Input::Replay => "replay file",
            Input::Shard => "shard file",
        }
    }

    /// The largest file of this kind fusebench reads. Far above anything legitimate (the
    /// shipped scenarios are tens of KiB, the largest module a few hundred), far below what
    /// would exhaust memory.
    #[must_use]
    pub fn limit_bytes(self) -> u64 {
        match self {
            Input::Scenario | Input::Replay => 8 * MIB,
            // A shard of the largest exploration (10 000 cases) with verbose findings.
            Input::Module | Input::StoreInit | Input::Shard => 64 * MIB,
        }
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why an input file was not read. Each variant's message is complete on one line: none wraps
/// a source error that a printer of error chains would print a second time.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// A directory, device, FIFO or socket: refused without opening it.
    #[error("{kind} {}: {what}, not a regular file", path.display())]
    NotAFile { kind: Input, path: PathBuf, what: &'static str },
    /// Over the kind's limit: refused without reading it whole.
    #[error(
        "{kind} {} is {size_bytes} bytes or more, over the {} MiB limit for a {kind}",
        path.display(),
        limit_bytes / MIB
    )]
    TooLarge { kind: Input, path: PathBuf, size_bytes: u64, limit_bytes: u64 },
    /// The operating system's error (not found, permission denied, …), shown in the message.
    #[error("cannot read {kind} {}: {error}", path.display())]
    Io { kind: Input, path: PathBuf, error: std::io::Error },
    /// A text input with bytes that are not UTF-8, located by line, column and byte offset.
    #[error(
        "{}:{line}:{column}: the {kind} is not UTF-8 (invalid byte 0x{byte:02x} at byte offset {offset})",
        path.display()
    )]
    NotUtf8 { kind: Input, path: PathBuf, line: usize, column: usize, offset: usize, byte: u8 },
}

impl ReadError {
    /// Whether the file does not exist.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { error, .. } if error.kind() == std::io::ErrorKind::NotFound)
    }
}

/// What a file type is, when it is not a regular file.
fn not_regular(ty: FileType) -> Option<&'static str> {
    if ty.is_file() {
        return None;
    }
    if ty.is_dir() {
        return Some("a directory");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if ty.is_fifo() {
            return Some("a FIFO");
        }
        if ty.is_char_device() {
            return Some("a character device");
        }
        if ty.is_block_device() {
            return Some("a block device");
        }
        if ty.is_socket() {
            return Some("a socket");
        }
    }
    Some("a special file")
}

/// Reads `path` whole if it is a regular file within `kind`'s size limit.
///
/// # Errors
/// Not a regular file, over the limit, or the operating system's error.
pub fn read_input(path: &Path, kind: Input) -> Result<Vec<u8>, ReadError> {
    let at = || path.to_path_buf();
    let io = |error| ReadError::Io { kind, path: at(), error };
    let limit_bytes = kind.limit_bytes();
    let refuse = |meta: &std::fs::Metadata| {
        if let Some(what) = not_regular(meta.file_type()) {
            return Err(ReadError::NotAFile { kind, path: at(), what });
        }
        if meta.len() > limit_bytes {
            return Err(ReadError::TooLarge {
                kind,
                path: at(),
                size_bytes: meta.len(),
                limit_bytes,
            });
        }
        Ok(())
    };
    // Look before opening: opening a FIFO blocks until someone writes to it.
    refuse(&std::fs::metadata(path).map_err(io)?)?;
    let file = File::open(path).map_err(io)?;
    // The path may have changed between the two looks: check what was opened.
    let meta = file.metadata().map_err(io)?;
    refuse(&meta)?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // One byte past the limit tells a file that grew while being read from one that fits.
    file.take(limit_bytes + 1).read_to_end(&mut bytes).map_err(io)?;
    let size_bytes = bytes.len() as u64;
    if size_bytes > limit_bytes {
        return Err(ReadError::TooLarge { kind, path: at(), size_bytes, limit_bytes });
    }
    Ok(bytes)
}

/// [`read_input`] for a text input: the bytes must be UTF-8, or the error names the line,
/// column (1-based, in bytes) and byte offset of the first one that is not.
///
/// # Errors
/// See [`read_input`]; [`ReadError::NotUtf8`].
pub fn read_text(path: &Path, kind: Input) -> Result<String, ReadError> {
    let bytes = read_input(path, kind)?;
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let offset = e.utf8_error().valid_up_to();
        let before = &bytes[..offset];
        let line_start = before.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        ReadError::NotUtf8 {
            kind,
            path: path.to_path_buf(),
            line: before.iter().filter(|b| **b == b'\n').count() + 1,
            column: offset - line_start + 1,
            offset,
            byte: bytes[offset],
        }
    })
}

/// A scenario read from disk, with its modules read (once) and inspected.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    /// Every module the scenario names (services, module swaps, rollouts…), as read: what the runtime
    /// is built from ([`crate::setup::build_runtime`]).
    pub files: ModuleFiles,
    /// The services' modules inspected, or why they could not be (for the static checks).
    pub modules: Modules,
    /// Warnings from parsing (errors make loading fail).
    pub diagnostics: Vec<Diagnostic>,
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The scenario file itself could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// It was read, but has errors (a module that cannot be read among them); every
    /// diagnostic is here.
    #[error("{} has {} error(s)", file, diagnostics.iter().filter(|d| d.is_error()).count())]
    Invalid { file: String, diagnostics: Vec<Diagnostic> },
}

/// Reads and parses `path`, then reads and inspects every module it names (relative to the
/// scenario's directory). A module that cannot be read is bad input at the scenario line that
/// names it; one that is read but invalid is recorded in `modules` as the reason, so the
/// static checks report it.
///
/// # Errors
/// The file cannot be read, or it (or a module reference) is invalid.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let text = read_text(path, Input::Scenario)?;
    load_text(path, &text)
}

/// [`load`] for a scenario whose text is already in hand (an edited, unsaved scenario);
/// modules are still read relative to `path`'s directory.
///
/// # Errors
/// The text (or a module reference) is invalid.
pub fn load_text(path: &Path, text: &str) -> Result<Loaded, LoadError> {
    let file = path.display().to_string();
    let parsed = fusebench_model::parse(&file, text);
    if parsed.has_errors() {
        return Err(LoadError::Invalid { file, diagnostics: parsed.diagnostics });
    }
    let diagnostics = parsed.diagnostics;
    let Some(scenario) = parsed.scenario else {
        return Err(LoadError::Invalid { file, diagnostics });
    };
    let base = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
    let mut files = ModuleFiles::new();
    let mut modules = Modules::new();
    let mut unreadable = Vec::new();
    for wanted in module_refs(&scenario) {
        if files.contains_key(&wanted.module.name) {
            continue;
        }
        let module_path = base.join(&wanted.module.name);
        let bytes = match read_input(&module_path, Input::Module) {
            Ok(bytes) => bytes,
            Err(e) => {
                // A module that is not there (or not a readable file) is bad input; one that
                // is there but invalid is a failed check.
                let msg = if e.is_not_found() {
                    format!(
                        "module file `{}` of {} not found (looked for {})",
                        wanted.module.name,
                        wanted.owner,
                        module_path.display()
                    )
                } else {
                    format!("{}: {e}", wanted.owner)
                };
                let code = if e.is_not_found() { "parse.unknown-reference" } else { "load.module" };
                unreadable.push(
                    Diagnostic::error(code, msg)
                        .at(scenario.locate(wanted.module.span))
                        .field(wanted.field),
                );
                continue;
            }
        };
        if wanted.checked {
            modules.insert(wanted.module.name.clone(), inspect(&module_path, &bytes));
        }
        files.insert(wanted.module.name.clone(), bytes);
    }
    if !unreadable.is_empty() {
        return Err(LoadError::Invalid {
            file,
            diagnostics: diagnostics.into_iter().chain(unreadable).collect(),
        });
    }
    Ok(Loaded { scenario, files, modules, diagnostics })
}

/// One reference to a module file in a scenario.
struct ModuleRef<'a> {
    /// Who names it, for messages: "service `orders`", "property `stock-conserved`".
    owner: String,
    module: &'a fusebench_model::scenario::NameRef,
    /// The scenario field that names it, for diagnostics.
    field: String,
    /// Inspected for the static checks: a service's own module, a mesh filter's or a scaling
    /// policy's (not a swap's replacement or a property checker's).
    checked: bool,
}

/// Every module the scenario names: the services' modules, module-swap replacements, property
/// checkers, mesh filters, scaling policies, rollouts' new modules, then linked libraries.
fn module_refs(s: &Scenario) -> impl Iterator<Item = ModuleRef<'_>> {
    let services = s.services.iter().filter_map(|x| {
        x.module.as_ref().map(|module| ModuleRef {
            owner: format!("service `{}`", x.name),
            module,
            field: format!("service[{}].module", x.name),
            checked: true,
        })
    });
    let swaps = s.faults.iter().enumerate().filter_map(|(i, f)| match (&f.kind, &f.target) {
        (FaultKind::ModuleSwap { module }, FaultTarget::Service { service, .. }) => {
            Some(ModuleRef {
                owner: format!("service `{}`", service.name),
                module,
                field: format!("fault[{i}].module"),
                checked: false,
            })
        }
        _ => None,
    });
    let properties = s.properties.iter().enumerate().map(|(i, p)| ModuleRef {
        owner: format!("property `{}`", p.name),
        module: &p.module,
        field: format!("property[{i}].module"),
        checked: false,
    });
    let filters =
        s.mesh.iter().flat_map(|m| m.filters.iter().enumerate()).map(|(i, f)| ModuleRef {
            owner: format!("mesh filter `{}`", f.name),
            module: &f.module,
            field: format!("mesh.filter[{i}].module"),
            checked: true,
        });
    let pushed_filters = s
        .mesh
        .iter()
        .flat_map(|m| m.pushes.iter().enumerate())
        .flat_map(|(i, p)| p.filters.iter().enumerate().map(move |(j, f)| (i, j, f)))
        .map(|(i, j, f)| ModuleRef {
            owner: format!("mesh filter `{}` pushed by mesh.push[{i}]", f.name),
            module: &f.module,
            field: format!("mesh.push[{i}].filter[{j}].module"),
            checked: true,
        });
    let policies = s.services.iter().filter_map(|x| match &x.autoscale.as_ref()?.policy {
        ScalePolicy::Module(m) => Some(ModuleRef {
            owner: format!("the scaling policy of service `{}`", x.name),
            module: &m.module,
            field: format!("service[{}].autoscale.policy.module", x.name),
            checked: true,
        }),
        _ => None,
    });
    let rollouts = s.rollouts.iter().enumerate().map(|(i, r)| ModuleRef {
        owner: format!("the rollout of service `{}`", r.service.name),
        module: &r.module,
        field: format!("rollout[{i}].module"),
        checked: true,
    });
    let subsets = s.mesh.iter().flat_map(|m| m.subsets.iter().enumerate()).filter_map(|(i, x)| {
        Some(ModuleRef {
            owner: format!("subset `{}` of service `{}`", x.name.name, x.service.name),
            module: x.module.as_ref()?,
            field: format!("mesh.subset[{i}].module"),
            checked: true,
        })
    });
    let libraries = s.libraries.iter().map(|l| ModuleRef {
        owner: format!("library `{}`", l.name),
        module: &l.module,
        field: format!("library[{}].module", l.name),
        checked: true,
    });
    services
        .chain(swaps)
        .chain(properties)
        .chain(filters)
        .chain(pushed_filters)
        .chain(policies)
        .chain(rollouts)
        .chain(subsets)
        .chain(libraries)
}

/// Inspects one module's bytes; the error is a one-line reason.
fn inspect(path: &Path, bytes: &[u8]) -> Result<module::ModuleInfo, String> {
    let name = path.display().to_string();
    // Reasons are shown inside one diagnostic: keep the first line (the `wat` crate appends a
    // source snippet on the following ones).
    let one_line =
        |e: module::ModuleError| e.to_string().lines().next().unwrap_or_default().to_owned();
    let bytes = module::module_bytes(&name, bytes).map_err(one_line)?;
    module::inspect(&bytes).map_err(one_line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("fusebench-load-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    #[test]
    fn invalid_utf8_is_located_by_line_column_and_offset() {
        let path = scratch("bad-utf8.toml", b"[system]\nname = \"a\xffb\"\n");
        let e = read_text(&path, Input::Scenario).expect_err("not UTF-8");
        assert!(
            matches!(e, ReadError::NotUtf8 { line: 2, column: 10, offset: 18, byte: 0xff, .. }),
            "{e:?}"
        );
        assert!(
            e.to_string().ends_with(
                ":2:10: the scenario is not UTF-8 (invalid byte 0xff at byte offset 18)"
            ),
            "{e}"
        );
    }

    #[test]
    fn special_files_and_oversize_files_are_refused_by_name() {
        let dir = std::env::temp_dir();
        let e = read_input(&dir, Input::Module).expect_err("a directory");
        assert!(matches!(e, ReadError::NotAFile { what: "a directory", .. }), "{e}");
        #[cfg(unix)]
        {
            let e = read_input(Path::new("/dev/zero"), Input::Scenario).expect_err("a device");
            assert_eq!(e.to_string(), "scenario /dev/zero: a character device, not a regular file");
        }
        let path = scratch("big.json", b"");
        File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(Input::Replay.limit_bytes() + 1))
            .expect("sparse file");
        let e = read_input(&path, Input::Replay).expect_err("too large");
        assert!(e.to_string().contains("over the 8 MiB limit for a replay file"), "{e}");
        let e =
            read_input(&dir.join("fusebench-no-such-file"), Input::StoreInit).expect_err("missing");
        assert!(e.is_not_found(), "{e}");
        // The OS error is in the message, and is not also a source to be printed again.
        assert!(std::error::Error::source(&e).is_none());
    }
}
