//! Sweep tables on disk and on screen: CSV written and read back (with
//! `file:line:column` errors), JSON and an aligned text table.

use crate::error::CliError;
use std::fmt::Write as _;
use vmlab_workload::sweep::{Row, COLUMNS};

/// `rows` as CSV: a header of [`COLUMNS`], then one line per row.
pub fn to_csv(rows: &[Row]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for row in rows {
        let cells: Vec<String> = row.cells().iter().map(|c| quote(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// A CSV cell, quoted when it holds a comma or a quote (a scheme such as
/// `linear:va=16,page=1024,pa=16`, a TLB spec).
fn quote(cell: &str) -> String {
    if cell.contains([',', '"']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell.to_string()
    }
}

/// `rows` as pretty JSON (an array of objects, `null` for empty cells).
pub fn to_json(rows: &[Row]) -> Result<String, CliError> {
    serde_json::to_string_pretty(rows).map_err(|e| CliError(format!("cannot render JSON: {e}")))
}

/// `rows` as a text table with aligned columns (`-` for empty cells).
pub fn to_text(rows: &[Row]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.cells()
                .into_iter()
                .map(|c| if c.is_empty() { "-".into() } else { c })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = COLUMNS
        .iter()
        .enumerate()
        .map(|(i, name)| {
            cells
                .iter()
                .map(|r| r[i].len())
                .chain([name.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    for line in std::iter::once(&header).chain(&cells) {
        let padded: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(c, &w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    }
    out
}

/// A parsed CSV file: its header and records, each record remembering its
/// line and the column (in characters, from 1) where each cell starts.
pub struct Csv {
    /// What errors call the file.
    pub name: String,
    /// Column names.
    pub header: Vec<String>,
    /// The records after the header.
    pub records: Vec<Record>,
}

/// One CSV line after the header.
pub struct Record {
    /// Line number, from 1.
    pub line: usize,
    /// `(column where the cell starts, its text)`.
    pub cells: Vec<(usize, String)>,
}

impl Csv {
    /// Parses `text` (RFC 4180 quoting; a quoted cell may not span lines).
    /// Every record must have as many cells as the header.
    pub fn parse(name: &str, text: &str) -> Result<Csv, CliError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(CliError(format!(
                "{name}:1:1: expected a header line of column names, found an empty file"
            )));
        };
        let header: Vec<String> = split_line(name, 1, header)?
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        let mut records = Vec::new();
        for (i, line) in lines {
            let cells = split_line(name, i + 1, line)?;
            if cells.len() != header.len() {
                return Err(CliError(format!(
                    "{name}:{}:1: expected {} cells as in the header, found {}",
                    i + 1,
                    header.len(),
                    cells.len()
                )));
            }
            records.push(Record { line: i + 1, cells });
        }
        Ok(Csv {
            name: name.to_string(),
            header,
            records,
        })
    }

    /// Cell `col` of `record` parsed by `parse`, or an error naming its
    /// position and the column; `what` says what was expected.
    pub fn get<T>(
        &self,
        record: &Record,
        col: usize,
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T, CliError> {
        let (column, text) = &record.cells[col];
        parse(text).ok_or_else(|| {
            CliError(format!(
                "{}:{}:{column}: column {}: expected {what}, found {text:?}",
                self.name, record.line, self.header[col]
            ))
        })
    }
}

/// The cells of one CSV line, each with the column where it starts.
fn split_line(name: &str, line: usize, text: &str) -> Result<Vec<(usize, String)>, CliError> {
    let chars: Vec<char> = text.trim_end_matches('\r').chars().collect();
    let mut cells = Vec::new();
    let mut i = 0;
    loop {
        let start = i + 1;
        let mut cell = String::new();
        if chars.get(i) == Some(&'"') {
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(CliError(format!(
                            "{name}:{line}:{start}: expected a closing quote before the end of the line"
                        )))
                    }
                    Some('"') if chars.get(i + 1) == Some(&'"') => {
                        cell.push('"');
                        i += 2;
                    }
                    Some('"') => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        cell.push(c);
                        i += 1;
                    }
                }
            }
            if !matches!(chars.get(i), None | Some(',')) {
                return Err(CliError(format!(
                    "{name}:{line}:{}: expected a comma after a quoted cell",
                    i + 1
                )));
            }
        } else {
            while let Some(&c) = chars.get(i).filter(|&&c| c != ',') {
                cell.push(c);
                i += 1;
            }
        }
        cells.push((start, cell));
        if i >= chars.len() {
            return Ok(cells);
        }
        i += 1; // the comma
    }
}

/// Reads a sweep table written by [`to_csv`] back into rows.
pub fn rows_from_csv(csv: &Csv) -> Result<Vec<Row>, CliError> {
    if csv.header != COLUMNS {
        return Err(CliError(format!(
            "{}:1:1: expected the sweep columns {}",
            csv.name,
            COLUMNS.join(",")
        )));
    }
    let text = |s: &str| Some(s.to_string());
    let int = |s: &str| s.parse::<u64>().ok();
    // Rates are per reference: NaN, infinity or a negative rate is no
    // result of a sweep, and would be plotted as if it were.
    let rate = |s: &str| s.parse::<f64>().ok().filter(|v| (0.0..=1.0).contains(v));
    let opt_int = |s: &str| {
        if s.is_empty() {
            Some(None)
        } else {
            s.parse().ok().map(Some)
        }
    };
    let opt_rate = |s: &str| {
        if s.is_empty() {
            Some(None)
        } else {
            rate(s).map(Some)
        }
    };
    const INT: &str = "a whole number";
    const OPT_INT: &str = "a whole number or nothing";
    const RATE: &str = "a rate from 0 to 1";
    const OPT_RATE: &str = "a rate from 0 to 1 or nothing";
    csv.records
        .iter()
        .map(|r| {
            Ok(Row {
                arch: csv.get(r, 0, "a scheme", text)?,
                page_bytes: csv.get(r, 1, INT, int)?,
                tlb: csv.get(r, 2, "a TLB", text)?,
                tlb_entries: csv.get(r, 3, OPT_INT, opt_int)?,
                model: csv.get(r, 4, "a model", text)?,
                policy: csv.get(r, 5, "a policy", text)?,
                frames: csv.get(r, 6, INT, int)?,
                mem_bytes: csv.get(r, 7, INT, int)?,
                references: csv.get(r, 8, INT, int)?,
                distinct_pages: csv.get(r, 9, OPT_INT, opt_int)?,
                faults: csv.get(r, 10, INT, int)?,
                fault_rate: csv.get(r, 11, RATE, rate)?,
                evictions: csv.get(r, 12, OPT_INT, opt_int)?,
                write_backs: csv.get(r, 13, OPT_INT, opt_int)?,
                tlb_hits: csv.get(r, 14, OPT_INT, opt_int)?,
                tlb_hit_rate: csv.get(r, 15, OPT_RATE, opt_rate)?,
                walks: csv.get(r, 16, OPT_INT, opt_int)?,
                page_table_bytes: csv.get(r, 17, OPT_INT, opt_int)?,
                skipped_lines: csv.get(r, 18, INT, int)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(arch: &str, frames: u64, tlb_hit_rate: Option<f64>) -> Row {
        Row {
            arch: arch.into(),
            page_bytes: 4096,
            tlb: "l1d:8:2,l1i:8:2".into(),
            tlb_entries: Some(16),
            model: "full".into(),
            policy: "lru".into(),
            frames,
            mem_bytes: frames * 4096,
            references: 1000,
            distinct_pages: Some(300),
            faults: 333,
            fault_rate: 0.333,
            evictions: Some(300),
            write_backs: None,
            tlb_hits: Some(700),
            tlb_hit_rate,
            walks: Some(300),
            page_table_bytes: Some(16384),
            skipped_lines: 0,
        }
    }

    #[test]
    fn csv_round_trips_quoted_cells_empty_cells_and_floats() {
        let rows = vec![
            row("x86-64", 10, Some(0.1 + 0.2)),
            row("linear:va=16,page=1024,pa=16", 20, None),
            row("say \"hi\"", 30, Some(1.0 / 3.0)),
        ];
        let text = to_csv(&rows);
        assert!(text.contains("\"l1d:8:2,l1i:8:2\""));
        let csv = Csv::parse("t.csv", &text).unwrap();
        assert_eq!(rows_from_csv(&csv).unwrap(), rows);
    }

    #[test]
    fn bad_csv_names_file_line_and_column() {
        let good = to_csv(&[row("x86-64", 10, None)]);
        let bad = good.replace(",333,", ",lots,");
        let csv = Csv::parse("r.csv", &bad).unwrap();
        let e = rows_from_csv(&csv).err().unwrap().0;
        let col = bad.lines().nth(1).unwrap().find("lots").unwrap() + 1;
        assert_eq!(
            e,
            format!("r.csv:2:{col}: column faults: expected a whole number, found \"lots\"")
        );
        let e = Csv::parse("r.csv", &format!("{good}x86-64,1\n"))
            .err()
            .unwrap()
            .0;
        assert_eq!(e, "r.csv:3:1: expected 19 cells as in the header, found 2");
        let e = Csv::parse("r.csv", "a,b\n1,\"2\n").err().unwrap().0;
        assert_eq!(
            e,
            "r.csv:2:3: expected a closing quote before the end of the line"
        );
        let e = Csv::parse("r.csv", "a,b\n\"1\"x,2\n").err().unwrap().0;
        assert_eq!(e, "r.csv:2:4: expected a comma after a quoted cell");
        let e = Csv::parse("r.csv", "").err().unwrap().0;
        assert!(e.starts_with("r.csv:1:1: expected a header"));
        let other = Csv::parse("o.csv", "references,rss\n1,2\n").unwrap();
        assert!(rows_from_csv(&other)
            .err()
            .unwrap()
            .0
            .starts_with("o.csv:1:1: expected the sweep columns"));
    }

    #[test]
    fn rates_that_are_not_from_0_to_1_are_refused_by_place() {
        let good = to_csv(&[row("x86-64", 10, Some(0.5))]);
        for bad in ["NaN", "inf", "-0.25", "1.75e308"] {
            for (column, cell) in [("fault_rate", ",0.333,"), ("tlb_hit_rate", ",0.5,")] {
                let text = good.replacen(cell, &format!(",{bad},"), 1);
                let csv = Csv::parse("r.csv", &text).unwrap();
                let e = rows_from_csv(&csv).err().unwrap().0;
                let col = text.lines().nth(1).unwrap().find(bad).unwrap() + 1;
                assert_eq!(
                    e,
                    format!("r.csv:2:{col}: column {column}: expected a rate from 0 to 1{}, found \"{bad}\"",
                        if column == "tlb_hit_rate" { " or nothing" } else { "" })
                );
            }
        }
    }

    #[test]
    fn text_table_aligns_columns_and_dashes_empty_cells() {
        let text = to_text(&[row("x86-64", 10, None), row("riscv-sv39", 200, None)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let at = |l: &str| l.find("lru").unwrap();
        assert_eq!(at(lines[1]), at(lines[2]));
        assert!(lines[1].contains(" - "));
    }
}
