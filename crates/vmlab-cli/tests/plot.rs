//! `vmlab plot` on tables it cannot draw faithfully. Values whose axis
//! range overflowed (1e308 beside -1e308, 1.75e308 plus its margin, an
//! infinite or NaN reference count) once hung it for ever; NaN, infinite
//! or negative rates in a sweep table were plotted as if measured; a time
//! series with a header only gave an empty chart. Each is now an error
//! naming the file (and line and column), and extreme values that can be
//! drawn are, promptly.

mod common;
#[path = "common/fed.rs"]
mod fed;

use common::{refused, stdout_of};
use fed::vmlab_fed;
use std::path::{Path, PathBuf};

/// A fresh directory for one test.
fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vmlab-plot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// `vmlab plot t.csv -o t.svg` in `dir`, `t.csv` holding `table`.
fn plot_args(dir: &Path, table: &str) -> Vec<String> {
    let csv = dir.join("t.csv");
    std::fs::write(&csv, table).expect("write table");
    let path = |p: PathBuf| p.to_str().expect("utf-8").to_string();
    vec![
        "plot".into(),
        path(csv),
        "-o".into(),
        path(dir.join("t.svg")),
    ]
}

/// The error of plotting `table`, which must be refused, writing nothing.
fn refused_plot(dir: &Path, table: &str) -> String {
    let argv = plot_args(dir, table);
    let e = refused(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(!dir.join("t.svg").exists(), "{table:?}: a plot was written");
    e
}

/// Plots `table`, which must succeed.
fn drawn(dir: &Path, table: &str) {
    let argv = plot_args(dir, table);
    stdout_of(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    std::fs::remove_file(dir.join("t.svg")).expect("a plot was written");
}

#[test]
fn plot_refuses_time_series_values_an_axis_cannot_hold() {
    let dir = work_dir("overflow");
    let y = "column rss: expected a number from -1e300 to 1e300 or nothing";
    let x = "column references: expected a reference count from -1e300 to 1e300";
    for (table, expected) in [
        (
            "references,rss\n1,1e308\n2,-1e308\n",
            format!("t.csv:2:3: {y}, found \"1e308\""),
        ),
        (
            "references,rss\n1,1\n2,1.75e308\n",
            format!("t.csv:3:3: {y}, found \"1.75e308\""),
        ),
        (
            "references,rss\n1,1\n2,inf\n",
            format!("t.csv:3:3: {y}, found \"inf\""),
        ),
        (
            "references,rss\ninf,1\n",
            format!("t.csv:2:1: {x}, found \"inf\""),
        ),
        (
            "references,rss\nNaN,1\n",
            format!("t.csv:2:1: {x}, found \"NaN\""),
        ),
        (
            "references,rss\n-1e308,1\n1e308,2\n",
            format!("t.csv:2:1: {x}, found \"-1e308\""),
        ),
    ] {
        let e = refused_plot(&dir, table);
        assert!(e.contains(&expected), "{table:?}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plot_draws_extreme_values_within_range_without_hanging() {
    let dir = work_dir("extreme");
    for table in [
        "references,rss\n1,1e300\n2,-1e300\n",
        "references,rss\n-1e300,1\n1e300,2\n",
        "references,rss\n1,1e300\n2,1e300\n",
        // A ratio of ends that overflows: a linear axis, not a logarithmic one.
        "references,rss\n1e-300,1\n1e300,2\n",
        "references,rss\n5e-324,1\n1,2\n",
    ] {
        drawn(&dir, table);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plot_refuses_a_time_series_without_values_as_it_does_an_empty_sweep() {
    let dir = work_dir("empty");
    for (table, expected) in [
        ("references,rss\n".to_string(), "t.csv: no rows to plot"),
        (
            "references,rss,faults\n1,,\n2,,\n".to_string(),
            "t.csv: no values to plot",
        ),
        (
            sweep_table(&["16"])
                .lines()
                .next()
                .expect("header")
                .to_string()
                + "\n",
            "t.csv: no rows to plot",
        ),
    ] {
        let e = refused_plot(&dir, &table);
        assert!(e.contains(expected), "{table:?}: {e}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn plot_refuses_sweep_rates_outside_0_to_1() {
    let dir = work_dir("rates");
    let sweep = sweep_table(&["2,16"]);
    let lines: Vec<&str> = sweep.lines().collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    for column in ["fault_rate", "tlb_hit_rate"] {
        let at = header.iter().position(|c| *c == column).expect(column);
        for bad in ["1.75e308", "NaN", "inf", "-0.5", "1.5"] {
            let mut cells: Vec<&str> = lines[2].split(',').collect();
            cells[at] = bad;
            let table = format!("{}\n{}\n{}\n", lines[0], lines[1], cells.join(","));
            let e = refused_plot(&dir, &table);
            let expected = format!("column {column}: expected a rate from 0 to 1");
            assert!(e.contains("t.csv:3:") && e.contains(&expected), "{e}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A small sweep's CSV over `frames` (its TLB cell holds no comma).
fn sweep_table(frames: &[&str]) -> String {
    let mut argv = vec![
        "sweep",
        "--gen",
        "seq:pages=4,n=8",
        "--model",
        "replacement",
        "--csv",
        "-",
        "--frames",
    ];
    argv.extend(frames);
    stdout_of(&argv)
}

/// `vmlab plot -` reads the table from standard input (`vmlab sweep
/// --csv - | vmlab plot - -o FILE`) and draws what the file would give;
/// with no `-o` it has no file name to derive one from, and says so.
#[test]
fn plot_reads_a_table_from_standard_input() {
    let dir = work_dir("stdin");
    let table = sweep_table(&["1,2,3,4"]);
    let argv = plot_args(&dir, &table);
    stdout_of(&argv.iter().map(String::as_str).collect::<Vec<_>>());
    let from_file = std::fs::read(dir.join("t.svg")).expect("a plot was written");
    let fed = |args: &[&str]| vmlab_fed(args, table.as_bytes());
    let svg = dir.join("stdin.svg");
    let out = fed(&["plot", "-", "-o", svg.to_str().expect("utf-8")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&svg).expect("a plot was written"), from_file);
    let out = fed(&["plot", "-"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--output: expected the plot file to write"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
