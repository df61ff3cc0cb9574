//! One rule for untrusted text: names and strings fusebench did not write (a module's name
//! section, producers, imports and exports; scenario names; replay files; guest messages) are
//! escaped at the moment they reach an output, so they are shown but never act.
//!
//! Why: such a string can hold terminal control sequences (`ESC[2J` clears the screen,
//! `ESC]0;…BEL` sets the window title), line breaks that forge whole lines of a report, bidi
//! overrides that reorder what a reader sees, or the syntax of the output format (a `"` ending
//! a DOT or Mermaid label, a `|` ending a Markdown cell, a `<` opening an XML tag). The data stays
//! as it was read; only what is printed is escaped.
//!
//! The base rule ([`plain`]) is visible and unambiguous: every hazardous character (see
//! [`is_hazard`]) becomes an escape a person can read — `\n`, `\r`, `\t`, `\x1b` for ASCII
//! controls, `\u{85}` / `\u{202e}` for the others — and a backslash becomes `\\`, so the escape
//! of a control character can never be confused with the same characters typed literally. Bytes
//! that are not UTF-8 ([`escape_bytes`]) become `\xff`: nothing is silently dropped or replaced.
//! Each output format ([`Target`]) applies its own quoting on top of the base rule, so what a
//! reader finally sees is the same escaped name in every format.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Where an untrusted string is going. Every target first applies the base rule ([`plain`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A terminal, a log, a GUI label, an error message, or a string value of a JSON document:
    /// the base rule alone.
    Plain,
    /// Inline Markdown (a table cell, a heading, a list item): Markdown syntax backslash-escaped.
    Markdown,
    /// The inside of a quoted Mermaid label (`n0["…"]`, `-->|"…"|`): syntax as `#NN;` entities.
    Mermaid,
    /// The inside of a double-quoted Graphviz DOT string (an id or a label).
    Dot,
    /// XML 1.0 text or attribute values (JUnit). Control characters are not valid XML 1.0 even
    /// as character references, so the base rule's visible escapes stand in for them.
    Xml,
}

/// Whether `c` must never reach an output raw: C0 and C1 controls and DEL (terminal control
/// sequences, line breaks), bidi embeddings, overrides, isolates and marks (they reorder the
/// text around them), invisible characters that hide or join others (zero-width space, joiners,
/// word joiner, BOM, Unicode tags), the line and paragraph separators, the interlinear annotation
/// controls, and the noncharacters U+FFFE and U+FFFF (not allowed in XML 1.0).
#[must_use]
pub fn is_hazard(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{fffe}'
            | '\u{ffff}'
            | '\u{e0000}'..='\u{e007f}'
    )
}

/// The base rule: hazardous characters and backslashes escaped visibly (see the module docs).
/// Borrows when there is nothing to escape, which is the common case.
#[must_use]
pub fn plain(text: &str) -> Cow<'_, str> {
    if text.chars().any(|c| c == '\\' || is_hazard(c)) {
        let mut out = String::with_capacity(text.len() + 8);
        push_plain(&mut out, text);
        Cow::Owned(out)
    } else {
        Cow::Borrowed(text)
    }
}

/// [`plain`] of an owned string, reusing it when there is nothing to escape (a label built with
/// `format!` that quotes names).
#[must_use]
pub fn into_plain(text: String) -> String {
    match plain(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(safe) => safe,
    }
}

/// [`plain`] that keeps line breaks: for a multi-line message of fusebench's own (an error with
/// a source snippet) whose parts may be untrusted. Only `\n` is kept; `\r` and every other
/// hazard is escaped.
#[must_use]
pub fn plain_lines(text: &str) -> String {
    text.split('\n').map(plain).collect::<Vec<_>>().join("\n")
}

/// Bytes that should be text but may not be UTF-8: the valid parts as [`plain`], each invalid
/// byte as `\xNN` (a C1 character is `\u{NN}`, so the two never look alike).
#[must_use]
pub fn plain_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        push_plain(&mut out, chunk.valid());
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// `text` as one file-name component on every system: ASCII letters, digits, `-`, `_` and `.`
/// kept, anything else (a `/`, `..`, a control character, a space) as `_`, no leading dot, and
/// never empty. For files named after untrusted names (a replay file after its system): a
/// name cannot pick the directory, hide the file or put escapes into a path.
#[must_use]
pub fn file_name(text: &str) -> String {
    let mut out: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect();
    if out.starts_with('.') || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// `text` escaped for `target`.
#[must_use]
pub fn escape(text: &str, target: Target) -> String {
    finish(&plain(text), target)
}

/// `bytes` (maybe not UTF-8) escaped for `target`.
#[must_use]
pub fn escape_bytes(bytes: &[u8], target: Target) -> String {
    finish(&plain_bytes(bytes), target)
}

/// Text that is already shown safely — a [`Diagnostic`](crate::Diagnostic)'s `Display`, a line
/// built with [`plain`] — quoted for `target` without doubling the backslashes that start its
/// escapes. A hazard still in it (including a line break) is escaped all the same.
#[must_use]
pub fn escape_shown(shown: &str, target: Target) -> String {
    let mut safe = String::with_capacity(shown.len());
    for c in shown.chars() {
        if is_hazard(c) {
            push_plain(&mut safe, c.encode_utf8(&mut [0; 4]));
        } else {
            safe.push(c);
        }
    }
    finish(&safe, target)
}

/// Inline Markdown; see [`Target::Markdown`].
#[must_use]
pub fn markdown(text: &str) -> String {
    escape(text, Target::Markdown)
}

/// The inside of a quoted Mermaid label; see [`Target::Mermaid`].
#[must_use]
pub fn mermaid(text: &str) -> String {
    escape(text, Target::Mermaid)
}

/// The inside of a double-quoted DOT string; see [`Target::Dot`].
#[must_use]
pub fn dot(text: &str) -> String {
    escape(text, Target::Dot)
}

/// XML 1.0 text or attribute value; see [`Target::Xml`].
#[must_use]
pub fn xml(text: &str) -> String {
    escape(text, Target::Xml)
}

/// A JSON document whose every string (keys and values) is made [`plain`]: serde escapes C0
/// controls only as JSON escapes (`\u001b`), which a reader of the decoded value gets back raw,
/// and leaves C1 controls and bidi overrides as they are. The document's layout and key order
/// are kept: only string literals change. Input that is not JSON is returned [`plain`].
#[must_use]
pub fn json(document: &str) -> String {
    let mut out = String::with_capacity(document.len());
    let mut rest = document;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..start]);
        let Some(len) = string_literal_len(&rest[start..]) else {
            return plain(document).into_owned();
        };
        let literal = &rest[start..start + len];
        match serde_json::from_str::<String>(literal) {
            Ok(value) => match plain(&value) {
                Cow::Borrowed(_) => out.push_str(literal),
                Cow::Owned(safe) => out.push_str(&serde_json::Value::String(safe).to_string()),
            },
            Err(_) => return plain(document).into_owned(),
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// The byte length of the JSON string literal at the start of `s` (which starts with `"`).
fn string_literal_len(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

fn push_plain(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_hazard(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_hazard(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Applies `target`'s quoting to text the base rule has already made plain.
fn finish(plain: &str, target: Target) -> String {
    match target {
        Target::Plain => plain.to_owned(),
        Target::Markdown => markdown_quote(plain),
        Target::Mermaid => plain.chars().fold(String::with_capacity(plain.len()), |mut out, c| {
            // Mermaid has no backslash escapes in labels; it reads `#<decimal>;` entities.
            if matches!(
                c,
                '"' | '#' | '&' | '<' | '>' | '|' | '[' | ']' | '(' | ')' | '{' | '}' | '`' | ';'
            ) {
                let _ = write!(out, "#{};", c as u32);
            } else {
                out.push(c);
            }
            out
        }),
        Target::Dot => plain.replace('\\', "\\\\").replace('"', "\\\""),
        Target::Xml => plain
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&apos;"),
    }
}

/// Backslash-escapes what inline Markdown would interpret: emphasis, code, links and images,
/// raw HTML and entities, table cells, and what only matters at the start of a line (a heading,
/// a list item, a quote, a setext underline) when the text starts one. The base rule's own
/// backslashes are escaped too, so the rendered text reads exactly as [`plain`] prints it.
fn markdown_quote(plain: &str) -> String {
    let mut out = String::with_capacity(plain.len() + 4);
    let chars: Vec<char> = plain.chars().collect();
    let leading_digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    let alnum =
        |i: Option<usize>| i.and_then(|i| chars.get(i)).is_some_and(|c| c.is_alphanumeric());
    for (i, &c) in chars.iter().enumerate() {
        // `_` inside a word (`create_order`) cannot open or close emphasis; elsewhere it can.
        let word_underscore = c == '_' && alnum(i.checked_sub(1)) && alnum(Some(i + 1));
        let syntax = matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '['
                | ']'
                | '('
                | ')'
                | '<'
                | '>'
                | '|'
                | '#'
                | '~'
                | '&'
                | '!'
        ) && !word_underscore;
        let line_start = (i == 0 && matches!(c, '-' | '+' | '='))
            || (i == leading_digits && i > 0 && matches!(c, '.' | ')'));
        if syntax || line_start {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
