//! Column alignment for plain-text tables, written as the rows come: the widths are measured on
//! the first [`WIDTH_SAMPLE_ROWS`] rows (and the header), then every later row is written at
//! once, so a table of 50,000 apps needs the memory of a thousand rows, not of all of them. A
//! later cell wider than its column widens it from that row on. Widths are in terminal cells
//! (CJK and emoji count double; qtool's own colour sequences count as zero). Cell text passes
//! through [`escape_controls`]; newlines in a cell are shown as `⏎` so one item stays one line.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

use super::escape::{Keep, escape_controls};

/// How many rows decide the column widths before rows are written.
pub(crate) const WIDTH_SAMPLE_ROWS: usize = 1000;

/// A table being written to `out`.
pub(crate) struct TableWriter<W: Write> {
    out: W,
    header: Option<Vec<String>>,
    /// Rows held back until the sample is complete.
    sample: Vec<Vec<String>>,
    sample_rows: usize,
    /// Column widths, once the sample has been written.
    widths: Option<Vec<usize>>,
    own_colors: bool,
    line: String,
}

impl<W: Write> TableWriter<W> {
    /// A table under `header` (already painted, if at all); `own_colors` keeps qtool's colour
    /// sequences in cells (colour on).
    pub(crate) fn new(out: W, header: Option<Vec<String>>, own_colors: bool) -> TableWriter<W> {
        TableWriter {
            out,
            header: header.map(|h| clean_row(h, own_colors)),
            sample: Vec::new(),
            sample_rows: WIDTH_SAMPLE_ROWS,
            widths: None,
            own_colors,
            line: String::new(),
        }
    }

    /// Measure all rows before writing any.
    #[cfg(test)]
    fn unsampled(mut self) -> TableWriter<W> {
        self.sample_rows = usize::MAX;
        self
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) -> io::Result<()> {
        let cells = clean_row(cells, self.own_colors);
        if self.widths.is_some() {
            return self.write_row(&cells);
        }
        self.sample.push(cells);
        if self.sample.len() >= self.sample_rows {
            self.write_sample()?;
        }
        Ok(())
    }

    /// Write what is held back and flush; the writer back.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        if self.widths.is_none() {
            self.write_sample()?;
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn write_sample(&mut self) -> io::Result<()> {
        let mut widths = Vec::new();
        for row in self.header.iter().chain(&self.sample) {
            widen(&mut widths, row);
        }
        self.widths = Some(widths);
        if let Some(header) = self.header.take() {
            self.write_row(&header)?;
        }
        for row in std::mem::take(&mut self.sample) {
            self.write_row(&row)?;
        }
        Ok(())
    }

    fn write_row(&mut self, row: &[String]) -> io::Result<()> {
        let widths = self.widths.get_or_insert_with(Vec::new);
        widen(widths, row);
        self.line.clear();
        for (i, cell) in row.iter().enumerate() {
            self.line.push_str(cell);
            if i + 1 < row.len() {
                let pad = widths[i] - display_width(cell) + 2;
                pad_with_spaces(&mut self.line, pad);
            }
        }
        let end = self.line.trim_end().len();
        self.line.truncate(end);
        self.line.push('\n');
        self.out.write_all(self.line.as_bytes())
    }
}

fn pad_with_spaces(line: &mut String, mut pad: usize) {
    const SPACES: &str = "                                                                ";
    while pad > 0 {
        let n = pad.min(SPACES.len());
        line.push_str(&SPACES[..n]);
        pad -= n;
    }
}

fn widen(widths: &mut Vec<usize>, row: &[String]) {
    if widths.len() < row.len() {
        widths.resize(row.len(), 0);
    }
    for (width, cell) in widths.iter_mut().zip(row) {
        *width = (*width).max(display_width(cell));
    }
}

fn clean_row(row: Vec<String>, own_colors: bool) -> Vec<String> {
    let keep = Keep {
        newlines: false,
        own_colors,
    };
    row.into_iter()
        .map(|cell| {
            if is_printable_ascii(&cell) {
                return cell;
            }
            let cell = if cell.contains(['\n', '\r']) {
                cell.replace("\r\n", "⏎").replace(['\n', '\r'], "⏎")
            } else {
                cell
            };
            match escape_controls(&cell, keep) {
                std::borrow::Cow::Borrowed(_) => cell,
                std::borrow::Cow::Owned(escaped) => escaped,
            }
        })
        .collect()
}

/// Render rows (optionally under a header) as left-aligned columns separated by two spaces,
/// every row measured. Trailing spaces are trimmed.
#[cfg(test)]
fn render_table(header: Option<&[String]>, rows: &[Vec<String>]) -> String {
    let mut table = TableWriter::new(Vec::new(), header.map(<[String]>::to_vec), true).unsampled();
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = table.row(row.clone());
    }
    let bytes = table.finish().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// Printable ASCII, the common case: nothing to escape, one terminal cell per byte.
fn is_printable_ascii(text: &str) -> bool {
    text.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// Width in terminal cells, skipping ANSI escape sequences.
pub(super) fn display_width(text: &str) -> usize {
    if is_printable_ascii(text) {
        return text.len();
    }
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
        assert_eq!(text, "a⏎b  c\n");
    }

    #[test]
    fn control_characters_in_cells_are_escaped_and_measured_escaped() {
        let rows = vec![
            vec!["\x1b]0;t\x07".to_string(), "x".to_string()],
            vec!["ok".to_string(), "y".to_string()],
        ];
        let text = render_table(None, &rows);
        assert_eq!(text, "\\u{1b}]0;t\\u{7}  x\nok               y\n");
    }

    #[test]
    fn rows_after_the_sample_stream_and_widen_their_column() {
        let mut table = TableWriter::new(Vec::new(), Some(vec!["ID".into(), "NAME".into()]), false);
        table.sample_rows = 2;
        table.row(vec!["1".into(), "a".into()]).unwrap();
        assert!(
            table.out.is_empty(),
            "held back until the sample is complete"
        );
        table.row(vec!["2".into(), "b".into()]).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&table.out),
            "ID  NAME\n1   a\n2   b\n"
        );
        table.row(vec!["333333".into(), "c".into()]).unwrap();
        table.row(vec!["4".into(), "d".into()]).unwrap();
        let text = String::from_utf8(table.finish().unwrap()).unwrap();
        assert_eq!(text, "ID  NAME\n1   a\n2   b\n333333  c\n4       d\n");
    }
}
