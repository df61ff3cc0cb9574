//! Atomic file writes: a reader (or a crash, or Ctrl-C) sees either the old file or the whole
//! new one, never half of it.
//!
//! The bytes go to a hidden temporary file in the same directory (so the rename cannot cross
//! file systems), which is flushed to disk (`fsync`) and then renamed over the target; on Unix
//! the directory is synced too, so the rename itself survives a power loss. An interrupted
//! write leaves at most a hidden `.NAME.tmp-…` file behind, never a truncated `NAME`.

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
