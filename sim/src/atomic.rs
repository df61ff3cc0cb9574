//! Atomic file writes: a reader (or a crash, or Ctrl-C) sees either the old file or the whole
//! new one, never half of it.
//!
//! The bytes go to a hidden temporary file in the same directory (so the rename cannot cross
//! file systems), which is flushed to disk (`fsync`) and then renamed over the target; on Unix
//! the directory is synced too, so the rename itself survives a power loss. An interrupted
//! write leaves at most a hidden `.NAME.tmp-…` file behind, never a truncated `NAME`.
//!
//! A directory of outputs (a run's report, trace and plots) is written the same way as a whole
//! ([`StagedDir`]): into a fresh hidden directory next to it, swapped in only once complete, so
//! a reader never finds a new trace beside an old report.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically (see the module docs).
///
/// # Errors
/// The directory is not writable, the disk is full, or `path` has no file name.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_with(path, |tmp| {
        let mut f = OpenOptions::new().write(true).truncate(true).open(tmp)?;
        f.write_all(bytes)?;
        f.flush()
    })
}

/// Atomically writes `path` with a writer that insists on opening a path itself (an image
/// encoder, say): `fill` gets a fresh temporary path in the same directory, with the same
/// extension as `path` (encoders choose the format from it), and must leave the whole content
/// there. It is then synced and renamed over `path`; on any error the temporary file is removed.
///
/// # Errors
/// Whatever `fill` returns, or a failure to create, sync or rename the temporary file.
pub fn write_with(path: &Path, fill: impl FnOnce(&Path) -> io::Result<()>) -> io::Result<()> {
    let tmp = temp_path(path)?;
    // Create it exclusively first: never clobber someone else's temporary file.
    drop(OpenOptions::new().write(true).create_new(true).open(&tmp)?);
    let result = fill(&tmp).and_then(|()| {
        File::options().read(true).write(true).open(&tmp)?.sync_all()?;
        fs::rename(&tmp, path)
    });
    if result.is_err() {
        // Best effort: the error being reported is the one that matters.
        let _ = fs::remove_file(&tmp);
        return result;
    }
    sync_dir(path);
    Ok(())
}

/// `dir/.stem.tmp-PID-N.ext` next to `dir/stem.ext`.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{} names no file", path.display()))
    })?;
    let name = Path::new(name);
    let stem = name.file_stem().unwrap_or(name.as_os_str()).to_string_lossy();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp = format!(".{stem}.tmp-{}-{n}", std::process::id());
    if let Some(ext) = name.extension() {
        tmp.push('.');
        tmp.push_str(&ext.to_string_lossy());
    }
    Ok(path.with_file_name(tmp))
}

/// Makes a rename in `path`'s directory durable (Unix; elsewhere renames are not fsync-able).
fn sync_dir(path: &Path) {
    #[cfg(unix)]
    {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // The file is already complete and in place; failing to sync the directory only
        // weakens durability across a power loss, so it is not an error of the write.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// A directory written whole or not at all. Files go into a fresh hidden directory next to the
/// target (`.NAME.tmp-PID-N`, same file system, so the swap is a rename); [`commit`] then
/// renames the old target aside (`.NAME.old-PID-N`), renames the new one into place and removes
/// the old one. Dropped without a commit (an error, a panic unwinding), the staging directory is
/// removed and the target is untouched. Staging directories left by a killed process (whose PID
/// no longer runs) are swept when the next one for the same target is made.
///
/// [`commit`]: StagedDir::commit
#[derive(Debug)]
pub struct StagedDir {
    target: PathBuf,
    staging: PathBuf,
    committed: bool,
}

impl StagedDir {
    /// Creates the staging directory for `target` (and `target`'s parents).
    ///
    /// # Errors
    /// `target` names no directory (`/`, `..`), or the parent is not writable.
    pub fn new(target: &Path) -> io::Result<StagedDir> {
        let name = target.file_name().filter(|n| *n != "..").ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} names no directory that could be replaced", target.display()),
            )
        })?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent)?;
        sweep_stale(&parent, &name.to_string_lossy());
        let staging = sibling(target, "tmp")?;
        fs::create_dir(&staging)?;
        Ok(StagedDir { target: target.to_path_buf(), staging, committed: false })
    }

    /// Where the files go until the commit.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// Puts the staged directory in place of the target, replacing any old one.
    ///
    /// # Errors
    /// A rename failed; the old target is then put back where possible.
    pub fn commit(mut self) -> io::Result<()> {
        let old = if self.target.exists() {
            let old = sibling(&self.target, "old")?;
            fs::rename(&self.target, &old)?;
            Some(old)
        } else {
            None
        };
        if let Err(err) = fs::rename(&self.staging, &self.target) {
            if let Some(old) = &old {
                // Best effort: the rename error is the one to report.
                let _ = fs::rename(old, &self.target);
            }
            return Err(err);
        }
        self.committed = true;
        sync_dir(&self.target);
        if let Some(old) = old {
            // The new output is in place; an old copy that cannot be removed is only litter.
            let _ = fs::remove_dir_all(old);
        }
        Ok(())
    }
}

impl Drop for StagedDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// `dir/.name.KIND-PID-N` next to `dir/name`.
fn sibling(target: &Path, kind: &str) -> io::Result<PathBuf> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = target.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{} names no file", target.display()))
    })?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = format!(".{}.{kind}-{}-{n}", name.to_string_lossy(), std::process::id());
    Ok(target.with_file_name(name))
}

/// Removes `.name.tmp-PID-N` and `.name.old-PID-N` entries of `parent` whose process no longer
/// runs (a run killed before its commit). Only where a process can be asked about (Linux's
/// `/proc`); elsewhere they stay, hidden.
fn sweep_stale(parent: &Path, name: &str) {
    #[cfg(target_os = "linux")]
    {
        let Ok(entries) = fs::read_dir(parent) else { return };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let Some(rest) = file.strip_prefix(&format!(".{name}.")) else { continue };
            let Some(rest) = rest.strip_prefix("tmp-").or_else(|| rest.strip_prefix("old-")) else {
                continue;
            };
            let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (parent, name);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("fusebench-atomic-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        dir
    }

    // sim/clippy.toml bans `fs::read_to_string` (sim reads no input files); tests may.
    fn contents(path: &Path) -> String {
        io::read_to_string(File::open(path).expect("open")).expect("read")
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = scratch("replace");
        let path = dir.join("report.json");
        write(&path, b"first").expect("write");
        write(&path, b"second, longer").expect("rewrite");
        assert_eq!(contents(&path), "second, longer");
        assert_eq!(listing(&dir), ["report.json"]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_staged_dir_replaces_the_old_one_whole() {
        let dir = scratch("staged");
        let out = dir.join("out");
        fs::create_dir(&out).expect("old dir");
        fs::write(out.join("report.json"), b"old report").expect("old report");
        fs::write(out.join("latency.svg"), b"old plot").expect("old plot");
        let staged = StagedDir::new(&out).expect("stage");
        fs::write(staged.path().join("report.json"), b"new report").expect("new report");
        // Until the commit the old directory is intact.
        assert_eq!(contents(&out.join("report.json")), "old report");
        staged.commit().expect("commit");
        assert_eq!(contents(&out.join("report.json")), "new report");
        // No old file survives beside the new ones, and nothing is left next to the target.
        assert_eq!(listing(&out), ["report.json"]);
        assert_eq!(listing(&dir), ["out"]);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_staged_dir_leaves_the_old_one_and_no_temporary() {
        let dir = scratch("staged-fail");
        let out = dir.join("out");
        fs::create_dir(&out).expect("old dir");
        fs::write(out.join("report.json"), b"old report").expect("old report");
        let fill = |staged: &StagedDir| -> io::Result<()> {
            fs::write(staged.path().join("trace.jsonl"), b"new trace")?;
            Err(io::Error::other("the run failed midway"))
        };
        let staged = StagedDir::new(&out).expect("stage");
        assert!(fill(&staged).is_err());
        drop(staged);
        assert_eq!(listing(&out), ["report.json"]);
        assert_eq!(contents(&out.join("report.json")), "old report");
        assert_eq!(listing(&dir), ["out"]);
        // A staging directory of a process that is gone is swept by the next one.
        let stale = dir.join(".out.tmp-4294967295-0");
        fs::create_dir(&stale).expect("stale");
        let staged = StagedDir::new(&out).expect("stage");
        if cfg!(target_os = "linux") {
            assert!(!stale.exists());
        }
        drop(staged);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_staged_dir_needs_a_name() {
        assert!(StagedDir::new(Path::new("/")).is_err());
        assert!(StagedDir::new(Path::new("a/..")).is_err());
    }

    #[test]
    fn a_failed_fill_keeps_the_old_file_and_cleans_up() {
        let dir = scratch("fail");
        let path = dir.join("plot.png");
        write(&path, b"old").expect("write");
        let err = write_with(&path, |tmp| {
            assert_eq!(tmp.extension().and_then(|e| e.to_str()), Some("png"));
            fs::write(tmp, b"half")?;
            Err(io::Error::other("interrupted"))
        });
        assert!(err.is_err());
        assert_eq!(contents(&path), "old");
        assert_eq!(listing(&dir), ["plot.png"]);
        let _ = fs::remove_dir_all(&dir);
    }
}
