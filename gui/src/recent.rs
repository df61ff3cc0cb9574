//! Recently opened scenarios, kept in the user's configuration directory (one path a line).

use std::path::{Path, PathBuf};

/// Entries kept.
const RECENT_MAX: usize = 10;

#[derive(Debug, Clone, Default)]
pub struct Recent {
    /// Where the list is kept; `None` keeps it in memory only (tests, screenshots).
    file: Option<PathBuf>,
    pub paths: Vec<PathBuf>,
}

impl Recent {
    /// The list in `$XDG_CONFIG_HOME/fusebench/recent` (or `~/.config/…`), read if present.
    #[must_use]
    pub fn from_config_dir() -> Recent {
        let dir = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
        let Some(file) = dir.map(|d| d.join("fusebench").join("recent")) else {
            return Recent::default();
        };
        let paths = std::fs::read_to_string(&file)
            .map(|t| t.lines().filter(|l| !l.is_empty()).map(PathBuf::from).collect())
            .unwrap_or_default();
        Recent { file: Some(file), paths }
    }

    /// Puts `path` first and saves the list (a list that cannot be saved is only in memory).
    pub fn add(&mut self, path: &Path) {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        self.paths.retain(|p| *p != path);
        self.paths.insert(0, path);
        self.paths.truncate(RECENT_MAX);
        if let Some(file) = &self.file {
            let text: String = self.paths.iter().map(|p| format!("{}\n", p.display())).collect();
            let saved = file
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(file, text));
            if saved.is_err() {
                self.file = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_first_without_duplicates_and_bounded() {
        let mut r = Recent::default();
        for i in 0..12 {
            r.add(Path::new(&format!("/nonexistent/{i}.toml")));
        }
        r.add(Path::new("/nonexistent/5.toml"));
        assert_eq!(r.paths.len(), RECENT_MAX);
        assert_eq!(r.paths[0], Path::new("/nonexistent/5.toml"));
        assert_eq!(r.paths.iter().filter(|p| p.ends_with("5.toml")).count(), 1);
    }
}
