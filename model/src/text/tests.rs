use super::*;

/// Every character the rule must never let through raw: all C0 and C1 controls, DEL, and the
/// bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
fn hostile_chars() -> Vec<char> {
    let mut all: Vec<char> = (0u32..0x20).chain(0x7f..0xa0).filter_map(char::from_u32).collect();
    all.extend((0x202a..=0x202e).chain(0x2066..=0x2069).filter_map(char::from_u32));
    all
}

/// The hostile characters, each between letters, plus every format's syntax characters.
fn hostile_text() -> String {
    let mut s = String::from("\x1b[2J\x1b[31m EVIL \x1b]0;pwned\x07 ");
    for c in hostile_chars() {
        s.push('a');
        s.push(c);
    }
    s.push_str(" \" ' ` \\ | [ ] ( ) { } < > & # * _ ~ ! ; -- end");
    s
}

/// Invalid UTF-8 as a module's name section may hold it, mixed with controls.
const HOSTILE_BYTES: &[u8] = b"name\xff\xfe\x1b[2J\xc2\x9b\xe2\x80\xae\xc0end";

fn assert_no_hazard(target: Target, out: &str) {
    let raw: Vec<char> = out.chars().filter(|&c| is_hazard(c)).collect();
    assert!(raw.is_empty(), "{target:?} let through {raw:?} in {out:?}");
}

/// [`assert_no_hazard`] for text whose line breaks are its own structure (a multi-line message,
/// a pretty-printed JSON document).
fn assert_no_hazard_but_lines(what: &str, out: &str) {
    let raw: Vec<char> = out.chars().filter(|&c| c != '\n' && is_hazard(c)).collect();
    assert!(raw.is_empty(), "{what} let through {raw:?} in {out:?}");
}

#[test]
fn no_hazard_survives_any_target() {
    let text = hostile_text();
    for target in [Target::Plain, Target::Markdown, Target::Mermaid, Target::Dot, Target::Xml] {
        assert_no_hazard(target, &escape(&text, target));
        assert_no_hazard(target, &escape_bytes(HOSTILE_BYTES, target));
        assert_no_hazard(target, &escape_bytes(text.as_bytes(), target));
    }
    let lines = plain_lines(&text);
    assert_no_hazard_but_lines("plain_lines", &lines);
    assert_eq!(lines.lines().count(), 2, "only the one line break of the text: {lines:?}");
}

#[test]
fn escapes_are_visible_and_unambiguous() {
    assert_eq!(plain("\x1b[2J\x1b]0;pwned\x07"), "\\x1b[2J\\x1b]0;pwned\\x07");
    assert_eq!(plain("a\nb\tc\r"), "a\\nb\\tc\\r");
    assert_eq!(plain("\u{202e}gnp.exe"), "\\u{202e}gnp.exe");
    assert_eq!(plain("\u{85}\u{9b}\u{7f}"), "\\u{85}\\u{9b}\\x7f");
    // A backslash typed in a name is doubled, so it cannot pass for an escape.
    assert_ne!(plain("\x1b"), plain("\\x1b"));
    assert_eq!(plain("\\x1b"), "\\\\x1b");
    // Invalid bytes are `\xNN`, the C1 character U+0085 is `\u{85}`: never confused.
    assert_eq!(plain_bytes(b"a\x85b\xc2\x85"), "a\\x85b\\u{85}");
    assert_eq!(plain_bytes(HOSTILE_BYTES), "name\\xff\\xfe\\x1b[2J\\u{9b}\\u{202e}\\xc0end");
    // Ordinary names are untouched (and not copied).
    assert!(matches!(plain("orders-db.place_v2 ünïcode"), Cow::Borrowed(_)));
    assert_eq!(plain_lines("one \x1b\ntwo\r"), "one \\x1b\ntwo\\r");
}

#[test]
fn every_hostile_char_has_its_own_escape() {
    for c in hostile_chars() {
        let shown = plain(&c.to_string()).into_owned();
        assert!(shown.starts_with('\\') && shown.len() > 1, "{c:?} shown as {shown:?}");
        assert!(shown.chars().all(|x| x.is_ascii_graphic()), "{c:?} shown as {shown:?}");
    }
}

#[test]
fn markdown_cannot_open_syntax() {
    let md = markdown("a|b *x* _y_ [l](http://e) <img src=x> `c` &amp; # h ! \\");
    assert_eq!(
        md,
        "a\\|b \\*x\\* \\_y\\_ \\[l\\]\\(http://e\\) \\<img src=x\\> \\`c\\` \\&amp; \\# h \\! \\\\\\\\"
    );
    assert_eq!(markdown("- item"), "\\- item");
    assert_eq!(markdown("12. item"), "12\\. item");
    assert_eq!(markdown("orders-db.create_order"), "orders-db.create_order");
    assert_eq!(markdown("_x_ a_ _b"), "\\_x\\_ a\\_ \\_b");
    // The rendered text is the plain text: the base rule's backslash is itself escaped.
    assert_eq!(markdown("\x1b"), "\\\\x1b");
    assert!(!unescaped(&markdown(&hostile_text()), '|'));
}

#[test]
fn mermaid_label_cannot_break_out() {
    let label = mermaid("a\"] --> x[\"b\nc|d]e#f;g");
    assert_eq!(label, "a#34;#93; --#62; x#91;#34;b\\nc#124;d#93;e#35;f#59;g");
    let out = mermaid(&hostile_text());
    for bad in ['"', '\n', '|', '[', ']', '<', '>', '`'] {
        assert!(!out.contains(bad), "{bad:?} in {out:?}");
    }
}

#[test]
fn dot_string_cannot_break_out() {
    assert_eq!(dot("a\"b\\N"), "a\\\"b\\\\\\\\N");
    assert_eq!(dot("\x1b"), "\\\\x1b");
    assert!(!unescaped(&dot(&hostile_text()), '"'));
}

#[test]
fn xml_is_valid_xml_1_0() {
    let out = xml(&hostile_text());
    assert!(!out.contains(['<', '>', '"', '\'']));
    // Every `&` starts one of the five predefined entities.
    for (i, _) in out.match_indices('&') {
        let rest = &out[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].iter().any(|e| rest.starts_with(e)),
            "{rest}"
        );
    }
    // XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
    assert!(out.chars().all(|c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..='\u{10ffff}')));
    assert_eq!(xml("\x1b<a>"), "\\x1b&lt;a&gt;");
}

#[test]
fn json_strings_are_plain_and_the_layout_is_kept() {
    let value = serde_json::json!({
        "name": hostile_text(),
        "list": ["ok", "\u{202e}x", "quote \" and \\ backslash"],
        "\x1b[2J key": 1,
    });
    let doc = serde_json::to_string_pretty(&value).expect("serialises");
    let safe = json(&doc);
    assert_no_hazard_but_lines("json", &safe);
    let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
    let strings = |v: &serde_json::Value| -> Vec<String> {
        let mut out = Vec::new();
        collect(v, &mut out);
        out
    };
    for s in strings(&back) {
        assert_no_hazard(Target::Plain, &s);
    }
    assert_eq!(back["list"][0], "ok");
    assert_eq!(back["list"][1], "\\u{202e}x");
    assert_eq!(back["list"][2], "quote \" and \\\\ backslash");
    assert_eq!(back["\\x1b[2J key"], 1);
    // Nothing to escape: byte for byte the same document.
    let clean = "{\n  \"a\": [1, \"b\\\"c\"]\n}";
    assert_eq!(json(clean), clean);
}

fn collect(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect(x, out)),
        serde_json::Value::Object(o) => {
            for (k, x) in o {
                out.push(k.clone());
                collect(x, out);
            }
        }
        _ => {}
    }
}

/// Whether `quote` occurs in `s` without a backslash escaping it.
fn unescaped(s: &str, quote: char) -> bool {
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == quote {
            return true;
        }
    }
    false
}

#[test]
fn file_names_stay_in_their_directory() {
    assert_eq!(file_name("payment-redelivery"), "payment-redelivery");
    assert_eq!(file_name("../../etc/passwd"), "_.._.._etc_passwd");
    assert_eq!(file_name(".hidden"), "_.hidden");
    assert_eq!(file_name(""), "_");
    assert_eq!(file_name("\x1b[2J évil"), "__2J__vil");
}
