//! Column alignment for plain-text tables. Widths are measured in terminal cells (CJK and emoji
//! count double) and ANSI colour sequences count as zero.

use unicode_width::UnicodeWidthStr;

/// Render rows (optionally under a header) as left-aligned columns separated by two spaces.
/// Trailing spaces are trimmed; cell newlines are shown as `⏎` so one item stays on one line.
pub(crate) fn render_table(header: Option<&[String]>, rows: &[Vec<String>]) -> String {
    let clean_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| row.iter().map(|c| c.replace(['\n', '\r'], "⏎")).collect())
        .collect();
    let columns = header
        .map(|h| h.len())
        .into_iter()
        .chain(clean_rows.iter().map(Vec::len))
        .max()
        .unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in header
        .into_iter()
        .map(|h| h.to_vec())
        .chain(clean_rows.iter().cloned())
    {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(display_width(c));
        }
    }
    let mut out = String::new();
    let mut push_row = |row: &[String]| {
        let mut line = String::new();
        for (i, c) in row.iter().enumerate() {
            line.push_str(c);
            if i + 1 < row.len() {
                let pad = widths[i] - display_width(c) + 2;
                line.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    if let Some(h) = header {
        push_row(h);
    }
    for row in &clean_rows {
        push_row(row);
    }
    out
}

/// Width in terminal cells, skipping ANSI escape sequences.
pub(super) fn display_width(text: &str) -> usize {
    if !text.contains('\x1b') {
        return text.width();
    }
    let mut plain = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain.width()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns_and_trims() {
        let header = vec!["NAME".to_string(), "SERVER".to_string()];
        let rows = vec![
            vec!["a".to_string(), "https://x".to_string()],
            vec!["longer".to_string(), "".to_string()],
        ];
        let text = render_table(Some(&header), &rows);
        assert_eq!(text, "NAME    SERVER\na       https://x\nlonger\n");
    }

    #[test]
    fn ansi_and_wide_chars_measured_right() {
        assert_eq!(display_width("\x1b[1mNAME\x1b[0m"), 4);
        assert_eq!(display_width("日本"), 4);
    }

    #[test]
    fn newlines_in_cells_do_not_break_rows() {
        let text = render_table(None, &[vec!["a\nb".into(), "c".into()]]);
        assert_eq!(text.lines().count(), 1);
    }
}
