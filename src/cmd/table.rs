//! The plain-text and CSV tables `sweep` and `compare` print: one row per design, figures
//! right-aligned, names left-aligned, nothing wider than its widest cell.

/// The aligned table: `header` then `rows`, two spaces between columns; a column `c` for which
/// `left(c)` holds is left-aligned (names, settings, verdicts), every other right-aligned
/// (figures). Cells must already be escaped (names are untrusted).
pub fn aligned(header: &[String], rows: &[Vec<String>], left: impl Fn(usize) -> bool) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        let mut l = String::new();
        for (c, cell) in cells.iter().enumerate() {
            let pad = widths[c] - cell.chars().count();
            if c > 0 {
                l.push_str("  ");
            }
            if left(c) {
                l.push_str(cell);
                l.push_str(&" ".repeat(pad));
            } else {
                l.push_str(&" ".repeat(pad));
                l.push_str(cell);
            }
        }
        l.trim_end().to_owned()
    };
    let mut s = line(header);
    s.push('\n');
    for r in rows {
        s.push_str(&line(r));
        s.push('\n');
    }
    s
}

/// A figure as `f` shows it, or `–` when there is none.
pub fn dash_or(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.map_or_else(|| "–".to_owned(), f)
}

/// One RFC 4180 CSV row (a cell with a comma, quote or line break is quoted).
pub fn csv_row(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect();
    quoted.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn names_align_left_and_figures_right() {
        let t = aligned(
            &cells(&["name", "n"]),
            &[cells(&["a", "100"]), cells(&["longer", "2"])],
            |c| c == 0,
        );
        assert_eq!(t, "name      n\na       100\nlonger    2\n");
    }

    #[test]
    fn csv_quotes_only_what_needs_it() {
        assert_eq!(csv_row(&cells(&["a", "b,c", "say \"hi\""])), "a,\"b,c\",\"say \"\"hi\"\"\"");
    }
}
