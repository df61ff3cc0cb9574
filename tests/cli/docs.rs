//! The documentation's examples, run: every fenced TOML and shell snippet of the READMEs in
//! [`DOCS`], so the docs cannot drift from the code.
//!
//! Conventions (also stated where the docs use them):
//! - A ```toml snippet is a whole scenario and must parse with `fusebench_model::parse`
//!   without errors. A line `<!-- fragment -->` just before the fence (blank lines allowed)
//!   marks a scenario fragment: top-level tables spliced after [`BASE`], a minimal valid
//!   scenario, which must then parse without errors. `<!-- manifest -->` marks a Cargo manifest
//!   of a guest crate: it must be valid TOML and every `x.workspace = true` it inherits must
//!   exist in `guests/Cargo.toml`.
//! - In a ```sh/```bash/```console/```shell snippet (`$ ` prompts stripped in console ones,
//!   `\` continuations joined, whole-line `#` comments skipped) every line that invokes
//!   `fusebench` (directly, or as `cargo run [--release] -- ARGS`) is run with this test's
//!   binary, in a scratch directory where `scenarios/` is visible, and must exit 0 — or the
//!   code a trailing comment gives (`# exits 1`). The lines of one snippet run in order in one
//!   directory, so a `replay` finds the file the `check` before it wrote.
//! - `run` and `sweep` get `--duration 1` appended when the line sets no duration: a debug
//!   build would otherwise simulate the shop's full workload for minutes; what is checked is
//!   that the documented arguments are accepted and the exit code is the documented one.
//! - `gui` lines are not run (there is no display): their arguments go through the GUI's own
//!   clap definition (`fusebench_gui::GuiArgs`) and a scenario they name must parse.
//! - Any other line must be one of [`ALLOWED`] exactly (build, test, install commands), so a
//!   command cannot change or appear without this test being told; `cargo test --workspace`
//!   must stay the README's test command and be what `.ci/run` calls.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args as _, FromArgMatches as _};

use crate::support::root;

/// The documents whose snippets are run.
/// The READMEs left out show no command a test could run: benches/README.md (benchmarks, each
/// minutes long, measured by hand), deploy/shard/README.md (launches on a cluster: its
/// templates and launch commands are run by tests/cli/templates.rs), fuzz/README.md,
/// scenarios/predictive/.
const DOCS: [&str; 6] = [
    "README.md",
    "scenarios/README.md",
    "scenarios/serverless/README.md",
    "scenarios/corpus/README.md",
    "guests/README.md",
    "guests/sdk/README.md",
];

/// The minimal scenario a fragment is spliced into: the names the docs' fragments refer to.
const BASE: &str = r#"
[system]
name = "docs-fragment"

[[context]]
name = "sales"

[[node]]
name = "cloud-eu"
tier = "cloud"
"#;

/// Every non-`fusebench` command the docs may show, exactly (comment stripped, spaces
/// collapsed). Adding a command to the docs means adding it here, deliberately.
const ALLOWED: [&str; 13] = [
    "cargo test --workspace",
    "cargo test --test cli corpus::",
    "cd guests",
    "cargo test",
    "cargo clippy --all-targets -- -D warnings",
    "./build.sh",
    "./check.sh",
    "cargo test -p wishlist",
    "cargo clippy -p wishlist --all-targets -- -D warnings",
    "cargo build --release --target wasm32-unknown-unknown -p wishlist",
    "wasm-objdump -x target/wasm32-unknown-unknown/release/wishlist.wasm | less",
    "rustup target add wasm32-unknown-unknown",
    "bash docs/screenshots.sh",
];

/// One fenced block: its language, the marker comment before it, its text and where it starts.
#[derive(Debug)]
struct Snippet {
    doc: String,
    line: usize,
    lang: String,
    marker: Option<String>,
    text: String,
}

impl Snippet {
    fn at(&self) -> String {
        format!("{}:{}", self.doc, self.line)
    }
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The fenced blocks of a Markdown document (relative to the root), in order.
fn snippets(doc: &str) -> Vec<Snippet> {
    markdown_snippets(doc, &read(doc))
}

/// The fenced blocks of Markdown `text`, named `doc` in their locations.
fn markdown_snippets(doc: &str, text: &str) -> Vec<Snippet> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    let mut open: Option<Snippet> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(s) = &mut open {
            if trimmed == "```" {
                out.extend(open.take());
            } else {
                s.text.push_str(line);
                s.text.push('\n');
            }
        } else if let Some(lang) = trimmed.strip_prefix("```") {
            open = Some(Snippet {
                doc: doc.to_owned(),
                line: i + 1,
                lang: lang.trim().to_owned(),
                marker: marker.take(),
                text: String::new(),
            });
        } else if let Some(m) = trimmed.strip_prefix("<!--").and_then(|m| m.strip_suffix("-->")) {
            marker = Some(m.trim().to_owned());
        } else if !trimmed.is_empty() {
            marker = None;
        }
    }
    assert!(open.is_none(), "{doc}: a fenced block is never closed");
    out
}

fn all_snippets() -> Vec<Snippet> {
    DOCS.into_iter().flat_map(snippets).collect()
}

fn is_shell(lang: &str) -> bool {
    matches!(lang, "sh" | "bash" | "console" | "shell")
}

// ---- TOML ------------------------------------------------------------------------------------

/// Parses `text` as a scenario; the diagnostics if it has errors.
fn scenario_errors(file: &str, text: &str) -> Option<String> {
    let parsed = fusebench_model::parse(file, text);
    parsed
        .has_errors()
        .then(|| parsed.diagnostics.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
}

/// A guest crate's manifest: valid TOML, and whatever it inherits from the workspace exists
/// in `guests/Cargo.toml`.
fn manifest_problems(s: &Snippet) -> Vec<String> {
    let manifest: toml::Table = match s.text.parse() {
        Ok(t) => t,
        Err(e) => return vec![format!("{}: not TOML: {e}", s.at())],
    };
    let workspace: toml::Table = read("guests/Cargo.toml").parse().expect("guests/Cargo.toml");
    let ws = &workspace["workspace"];
    let mut problems = Vec::new();
    let inherits = |v: &toml::Value| {
        v.get("workspace").and_then(toml::Value::as_bool) == Some(true)
            || v.as_table().is_some_and(|t| t.contains_key("workspace"))
    };
    for (section, ws_section) in [("package", "package"), ("dependencies", "dependencies")] {
        let Some(table) = manifest.get(section).and_then(toml::Value::as_table) else {
            continue;
        };
        for (key, value) in table {
            if inherits(value) && ws.get(ws_section).and_then(|t| t.get(key)).is_none() {
                problems.push(format!(
                    "{}: `{section}.{key}.workspace = true` but guests/Cargo.toml has no \
                     `workspace.{ws_section}.{key}`",
                    s.at()
                ));
            }
        }
    }
    if manifest.get("lints").and_then(|l| l.get("workspace")).is_some() && ws.get("lints").is_none()
    {
        problems.push(format!("{}: `lints.workspace` but guests/Cargo.toml has none", s.at()));
    }
    problems
}

#[test]
fn every_toml_snippet_parses() {
    let mut problems = Vec::new();
    let mut seen = 0;
    for s in all_snippets().into_iter().filter(|s| s.lang == "toml") {
        seen += 1;
        match s.marker.as_deref() {
            Some("manifest") => problems.extend(manifest_problems(&s)),
            Some("fragment") => {
                if let Some(e) = scenario_errors(&s.at(), &format!("{BASE}\n{}", s.text)) {
                    problems.push(format!("{} (a fragment, spliced after BASE):\n{e}", s.at()));
                }
            }
            None => {
                if let Some(e) = scenario_errors(&s.at(), &s.text) {
                    problems.push(format!("{} (a whole scenario):\n{e}", s.at()));
                }
            }
            Some(other) => problems.push(format!("{}: unknown marker `{other}`", s.at())),
        }
    }
    assert!(seen >= 3, "only {seen} TOML snippets found: is the extraction broken?");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// The test of this test: a snippet that stops parsing is caught, fragment or whole.
#[test]
fn a_broken_toml_snippet_is_caught() {
    assert!(scenario_errors("t", BASE).is_none(), "BASE itself must be valid");
    let bad_fragment = "[[store]]\nname = \"s\"\nkind = \"kv\"\nnodes = [\"nowhere\"]\n";
    assert!(scenario_errors("t", &format!("{BASE}\n{bad_fragment}")).is_some());
    assert!(scenario_errors("t", "[system]\nname = \"x\"\nunknown = 1\n").is_some());
    let doc = "<!-- fragment -->\n\n```toml\n[x]\n```\ntext\n```toml\n[y]\n```\n";
    let found = markdown_snippets("t.md", doc);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].marker.as_deref(), Some("fragment"));
    assert_eq!(found[1].marker, None, "a marker applies to the next block only");
}

// ---- shell -----------------------------------------------------------------------------------

/// One command line of a shell snippet: the words, and the exit code its comment promises.
#[derive(Debug)]
struct Line {
    at: String,
    text: String,
    expected: i32,
}

/// The command lines of a shell snippet: prompts stripped, continuations joined, comments
/// split off (a `# exits N` comment sets the expected code).
fn command_lines(s: &Snippet) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pending = String::new();
    let mut start = 0;
    for (i, raw) in s.text.lines().enumerate() {
        let mut line = raw.trim();
        if s.lang == "console" {
            match line.strip_prefix("$ ") {
                Some(cmd) => line = cmd,
                None if pending.is_empty() => continue, // output shown, not a command
                None => {}
            }
        }
        if pending.is_empty() {
            start = s.line + 1 + i;
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
        }
        if let Some(head) = line.strip_suffix('\\') {
            pending.push_str(head);
            pending.push(' ');
            continue;
        }
        pending.push_str(line);
        let (command, comment) = split_comment(&pending);
        // `# exits 1` or `# exits 1: why`; anything else after `exits` promises nothing valid.
        let expected = comment.and_then(|c| c.trim().strip_prefix("exits ")).map_or(0, |n| {
            let digits: String = n.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().unwrap_or(-1)
        });
        out.push(Line {
            at: format!("{}:{start}", s.doc),
            text: command.trim().to_owned(),
            expected,
        });
        pending.clear();
    }
    out
}

/// Splits `cmd # comment` at the first `#` outside quotes that starts a word.
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut quote = None;
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if prev.is_whitespace() => return (&line[..i], Some(&line[i + 1..])),
            _ => {}
        }
        prev = c;
    }
    (line, None)
}

/// Shell words: whitespace-separated, with '…' and "…" quoting (no escapes, no expansion —
/// the docs use none, and a line that needs them is reported rather than guessed).
fn words(line: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut word: Option<String> = None;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.get_or_insert_with(String::new).push(c),
            (None, c) if c.is_whitespace() => out.extend(word.take()),
            (None, '$' | '`' | '\\' | '*' | '|' | '>' | '<' | ';' | '&') => {
                return Err(format!("`{c}` needs a real shell"));
            }
            (None, c) => word.get_or_insert_with(String::new).push(c),
        }
    }
    if quote.is_some() {
        return Err("an unclosed quote".to_owned());
    }
    out.extend(word);
    Ok(out)
}

/// A command with its spaces collapsed, as [`ALLOWED`] spells it.
fn normalised(command: &str) -> String {
    command.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `fusebench` arguments of a line that invokes it, or None for any other command.
fn fusebench_args(line: &str) -> Option<&str> {
    [
        "fusebench ",
        "cargo run --release --no-default-features -- ",
        "cargo run --release -- ",
        "cargo run -- ",
    ]
    .into_iter()
    .find_map(|prefix| line.strip_prefix(prefix))
}

/// A scratch directory where the repository's `scenarios/` is visible (a symlink), so the
/// docs' relative paths resolve and every output lands outside the repository.
fn scratch(name: &str) -> PathBuf {
    let dir = crate::support::scratch("docs", name);
    std::os::unix::fs::symlink(root().join("scenarios"), dir.join("scenarios"))
        .expect("symlink scenarios/");
    dir
}

/// Checks a `gui` line without opening a window: the GUI's clap definition accepts the
/// arguments, and a scenario named must parse.
fn check_gui(args: &[String]) -> Result<(), String> {
    let cmd = fusebench_gui::GuiArgs::augment_args(clap::Command::new("gui"));
    let matches = cmd.try_get_matches_from(args).map_err(|e| e.to_string())?;
    fusebench_gui::GuiArgs::from_arg_matches(&matches).map_err(|e| e.to_string())?;
    if let Some(scenario) = args.get(1).filter(|a| a.ends_with(".toml")) {
        let text = std::fs::read_to_string(root().join(scenario))
            .map_err(|e| format!("{scenario}: {e}"))?;
        if let Some(e) = scenario_errors(scenario, &text) {
            return Err(e);
        }
    }
    Ok(())
}

/// Runs one `fusebench` line in `dir`; a problem as text.
fn run_fusebench(line: &Line, rest: &str, dir: &Path) -> Result<(), String> {
    let mut args = words(rest)?;
    if args.first().map(String::as_str) == Some("gui") {
        return check_gui(&args);
    }
    // A debug build would simulate the documented workload for minutes: see the module doc.
    if matches!(args.first().map(String::as_str), Some("run" | "sweep"))
        && !args.iter().any(|a| a == "--duration")
    {
        args.extend(["--duration".to_owned(), "1".to_owned()]);
    }
    let o = Command::new(env!("CARGO_BIN_EXE_fusebench"))
        .args(&args)
        .current_dir(dir)
        .output()
        .map_err(|e| e.to_string())?;
    let code = o.status.code().unwrap_or(-1);
    if code == line.expected {
        Ok(())
    } else {
        Err(format!(
            "exit {code}, the docs say {}\nstdout:\n{}\nstderr:\n{}",
            line.expected,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ))
    }
}

#[test]
fn every_shell_snippet_runs_as_documented() {
    let mut problems = Vec::new();
    let mut ran = 0;
    for (n, s) in all_snippets().into_iter().filter(|s| is_shell(&s.lang)).enumerate() {
        let dir = scratch(&n.to_string());
        for line in command_lines(&s) {
            let result =
                match fusebench_args(&line.text) {
                    Some(rest) => {
                        ran += 1;
                        run_fusebench(&line, rest, &dir)
                    }
                    None if ALLOWED.contains(&normalised(&line.text).as_str()) => {
                        if line.expected == 0 {
                            Ok(())
                        } else {
                            Err("an allowed command is not run: no exit code to promise".to_owned())
                        }
                    }
                    None => Err("not a fusebench command, nor one of ALLOWED in tests/cli/docs.rs"
                        .to_owned()),
                };
            if let Err(e) = result {
                problems.push(format!("{} `{}`: {e}", line.at, line.text));
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(ran >= 8, "only {ran} fusebench commands found: is the extraction broken?");
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// The README's test command is `cargo test --workspace`, and CI runs exactly that after the
/// formatting and lint commands the README names.
#[test]
fn the_readme_test_command_is_what_ci_runs() {
    let readme: Vec<Line> = snippets("README.md")
        .iter()
        .filter(|s| is_shell(&s.lang))
        .flat_map(command_lines)
        .collect();
    assert!(
        readme.iter().any(|l| normalised(&l.text) == "cargo test --workspace"),
        "README.md no longer shows `cargo test --workspace`"
    );
    let ci = read(".ci/run");
    let commands: Vec<&str> = ci.lines().map(str::trim).collect();
    for expected in
        ["cargo fmt --all -- --check", "cargo clippy --workspace --all-targets -- -D warnings"]
    {
        assert!(commands.contains(&expected), ".ci/run does not run `{expected}`");
    }
    assert!(
        commands
            .iter()
            .any(|c| c.starts_with("cargo test --workspace ") || *c == "cargo test --workspace"),
        ".ci/run does not run `cargo test --workspace`"
    );
}

#[test]
fn shell_lines_are_split_as_a_shell_would() {
    let s = Snippet {
        doc: "t.md".to_owned(),
        line: 1,
        lang: "sh".to_owned(),
        marker: None,
        text: "# a comment\nfusebench check x.toml   # exits 1\nfusebench invoke a b \\\n    \
               --data '{\"k\":\"v w\"}'\n"
            .to_owned(),
    };
    let lines = command_lines(&s);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!((lines[0].text.as_str(), lines[0].expected), ("fusebench check x.toml", 1));
    assert_eq!(lines[1].expected, 0);
    let rest = fusebench_args(&lines[1].text).expect("a fusebench line");
    assert_eq!(words(rest).expect("words"), ["invoke", "a", "b", "--data", "{\"k\":\"v w\"}"]);
    assert!(words("run x > out").is_err(), "a redirection is not silently dropped");
    assert_eq!(fusebench_args("cargo run --release -- graph x"), Some("graph x"));
    assert_eq!(fusebench_args("cargo run --release --no-default-features -- run x"), Some("run x"));
    assert_eq!(fusebench_args("cargo test --workspace"), None);
}
