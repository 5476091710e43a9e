//! Plots as SVG or PNG files (plotters): a [`LinePlot`] is a titled chart
//! of named series with labelled axes and a legend. Built here from sweep
//! rows (fault rate vs memory per policy, miss-ratio curves, TLB hit rate
//! vs entries) and from time series (x = references, any values), such as
//! a `references,...` CSV.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary (its license is
//! `assets/DejaVuSans-LICENSE.txt`), so plots need no installed font.

use crate::error::CliError;
use crate::output::write_whole;
use crate::table::Csv;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::collections::BTreeSet;
use std::fmt::Display;
use std::path::Path;
use std::sync::OnceLock;
use vmlab_workload::sweep::Row;

/// DejaVu Sans (Bitstream Vera license, see the file beside it).
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// The family every text style asks for.
const FAMILY: &str = "sans-serif";

/// Pixels (PNG) or user units (SVG).
const SIZE: (u32, u32) = (960, 600);

/// One named line of points.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// Its legend entry.
    pub name: String,
    /// `(x, y)` in drawing order.
    pub points: Vec<(f64, f64)>,
}

/// A chart of lines: title, axis labels with units, series.
#[derive(Clone, Debug, PartialEq)]
pub struct LinePlot {
    /// The caption.
    pub title: String,
    /// The x axis, with its unit.
    pub x_label: String,
    /// The y axis, with its unit.
    pub y_label: String,
    /// The lines.
    pub series: Vec<Series>,
}

/// A plot of values over a run: x is references so far.
pub fn time_series(title: &str, y_label: &str, series: Vec<Series>) -> LinePlot {
    LinePlot {
        title: title.to_string(),
        x_label: "references".to_string(),
        y_label: y_label.to_string(),
        series,
    }
}

/// The plot a sweep's rows call for: miss-ratio curves when the rows are
/// curve points, TLB hit rate vs entries when the TLB size varies, and
/// otherwise fault rate vs memory. One series per combination of the
/// other dimensions that vary, named by their values.
pub fn sweep_plot(rows: &[Row]) -> Result<LinePlot, String> {
    if rows.is_empty() {
        return Err("no rows to plot".to_string());
    }
    let is_curve = |r: &Row| r.model.starts_with("mrc-") || r.model.starts_with("shards-");
    let tlb_sizes: BTreeSet<u64> = rows.iter().filter_map(|r| r.tlb_entries).collect();
    if rows.iter().all(is_curve) {
        let (unit, div) = memory_unit(rows);
        Ok(LinePlot {
            title: "LRU miss-ratio curve".to_string(),
            x_label: format!("physical memory ({unit})"),
            y_label: "miss ratio (misses per reference)".to_string(),
            series: group(rows, Dimension::Memory, |r| {
                Some((r.mem_bytes as f64 / div, r.fault_rate))
            }),
        })
    } else if tlb_sizes.len() > 1 {
        Ok(LinePlot {
            title: "TLB hit rate vs TLB size".to_string(),
            x_label: "TLB entries (all levels and arrays)".to_string(),
            y_label: "TLB hit rate (hits per reference)".to_string(),
            series: group(rows, Dimension::Tlb, |r| {
                Some((r.tlb_entries? as f64, r.tlb_hit_rate?))
            }),
        })
    } else {
        let (unit, div) = memory_unit(rows);
        Ok(LinePlot {
            title: "Fault rate vs physical memory".to_string(),
            x_label: format!("physical memory ({unit})"),
            y_label: "fault rate (faults per reference)".to_string(),
            series: group(rows, Dimension::Memory, |r| {
                Some((r.mem_bytes as f64 / div, r.fault_rate))
            }),
        })
    }
}

/// The binary unit that keeps the largest memory size readable.
fn memory_unit(rows: &[Row]) -> (&'static str, f64) {
    let max = rows.iter().map(|r| r.mem_bytes).max().unwrap_or(0);
    [("GiB", 30), ("MiB", 20), ("KiB", 10)]
        .into_iter()
        .find(|&(_, shift)| max >= 1 << shift)
        .map_or(("bytes", 1.0), |(unit, shift)| {
            (unit, (1u64 << shift) as f64)
        })
}

/// A sweep dimension on the x axis.
#[derive(Clone, Copy, PartialEq)]
enum Dimension {
    Memory,
    Tlb,
}

/// Rows grouped into series by the dimensions other than `x` that vary,
/// in order of first appearance, each series sorted by x; `point` is a
/// row's point (rows without one are left out).
fn group(rows: &[Row], x: Dimension, point: impl Fn(&Row) -> Option<(f64, f64)>) -> Vec<Series> {
    type Key = fn(&Row) -> String;
    let mut keys: Vec<(Dimension, Key)> = vec![
        (Dimension::Tlb, |r| format!("tlb {}", r.tlb)),
        (Dimension::Memory, |r| format!("{} frames", r.frames)),
    ];
    keys.retain(|(d, _)| *d != x);
    let mut keys: Vec<Key> = keys.into_iter().map(|(_, k)| k).collect();
    keys.splice(
        0..0,
        [
            (|r| r.arch.clone()) as Key,
            |r| r.model.clone(),
            |r| r.policy.clone(),
        ],
    );
    let varying: Vec<Key> = keys
        .into_iter()
        .filter(|k| rows.iter().map(k).collect::<BTreeSet<_>>().len() > 1)
        .collect();
    let mut series: Vec<Series> = Vec::new();
    for row in rows {
        let Some(p) = point(row) else { continue };
        let name = if varying.is_empty() {
            row.policy.clone()
        } else {
            varying.iter().map(|k| k(row)).collect::<Vec<_>>().join(" ")
        };
        match series.iter_mut().find(|s| s.name == name) {
            Some(s) => s.points.push(p),
            None => series.push(Series {
                name,
                points: vec![p],
            }),
        }
    }
    for s in &mut series {
        s.points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series
}

/// The largest magnitude a plotted value may have. Beyond it the span of
/// two values, or a margin added to one, can overflow to infinity, and
/// plotters then never finishes placing the axis's ticks.
const LARGEST: f64 = 1e300;

/// Whether `v` can be drawn: finite, and no larger than [`LARGEST`].
fn drawable(v: &f64) -> bool {
    v.abs() <= LARGEST
}

/// A time series from a CSV whose first column is `references`: one
/// series per other column (empty cells are gaps in the data, skipped).
/// A value that cannot be drawn, or a table with nothing to plot, is an
/// error naming the file (and the line and column).
pub fn time_series_from_csv(csv: &Csv) -> Result<LinePlot, CliError> {
    let number = |s: &str| s.parse::<f64>().ok().filter(drawable);
    let number_or_gap = |s: &str| {
        if s.is_empty() {
            Some(None)
        } else {
            number(s).map(Some)
        }
    };
    let mut series: Vec<Series> = csv.header[1..]
        .iter()
        .map(|name| Series {
            name: name.clone(),
            points: Vec::new(),
        })
        .collect();
    for record in &csv.records {
        let x = csv.get(record, 0, "a reference count from -1e300 to 1e300", number)?;
        for (i, s) in series.iter_mut().enumerate() {
            let what = "a number from -1e300 to 1e300 or nothing";
            if let Some(y) = csv.get(record, i + 1, what, number_or_gap)? {
                s.points.push((x, y));
            }
        }
    }
    if csv.records.is_empty() {
        return Err(CliError(format!("{}: no rows to plot", csv.name)));
    }
    if series.iter().all(|s| s.points.is_empty()) {
        return Err(CliError(format!(
            "{}: no values to plot (every cell after the references is empty)",
            csv.name
        )));
    }
    let y_label = match csv.header.len() {
        2 => csv.header[1].clone(),
        _ => "value".to_string(),
    };
    Ok(time_series(&csv.name, &y_label, series))
}

/// Draws `plot` into `path`, SVG or PNG by its extension, drawn in memory
/// and then written as an [`Output`](crate::output::Output).
pub fn render(plot: &LinePlot, path: &Path) -> Result<(), CliError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if !ok {
        return Err(CliError("the embedded font cannot be read".to_string()));
    }
    let fail = |e: &dyn Display| CliError(format!("{}: cannot draw the plot: {e}", path.display()));
    let points = || plot.series.iter().flat_map(|s| &s.points);
    if !points().all(|(x, y)| drawable(x) && drawable(y)) {
        return Err(fail(&"expected values from -1e300 to 1e300"));
    }
    let bytes = match format(path)? {
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
                draw(plot, &root).map_err(|e| fail(&e))?;
                root.present().map_err(|e| fail(&e))?;
            }
            svg.into_bytes()
        }
        Format::Png => {
            let mut rgb = vec![0; SIZE.0 as usize * SIZE.1 as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
                draw(plot, &root).map_err(|e| fail(&e))?;
                root.present().map_err(|e| fail(&e))?;
            }
            png(&rgb).map_err(|e| fail(&e))?
        }
    };
    write_whole(path, &bytes)
}

/// `rgb`, a picture of [`SIZE`] with 8-bit red, green and blue, as PNG.
fn png(rgb: &[u8]) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, SIZE.0, SIZE.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(bytes)
}

/// The image formats a plot is written in.
pub enum Format {
    /// Scalable vector graphics.
    Svg,
    /// Portable network graphics.
    Png,
}

/// The format `path`'s extension asks for, or an error naming the file.
pub fn format(path: &Path) -> Result<Format, CliError> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    match ext.as_deref() {
        Some("svg") => Ok(Format::Svg),
        Some("png") => Ok(Format::Png),
        _ => Err(CliError(format!(
            "{}: expected a file name ending in .svg or .png",
            path.display()
        ))),
    }
}

/// A range holding `values` with a margin, never empty. The values are
/// [`drawable`], so neither the span nor its margin overflows.
fn span(values: impl Iterator<Item = f64>, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if from_zero {
        lo = lo.min(0.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        // Wide enough to show for any size of value (a width of 1 is lost
        // in rounding beside 1e300).
        hi = lo + hi.abs().max(1.0);
    }
    (lo, hi + (hi - lo) * 0.05)
}

/// Whether x values spread over so many orders of magnitude (a geometric
/// range of memory sizes) that a logarithmic x axis reads better. Not when
/// their ratio is beyond [`LARGEST`]: plotters counts a logarithmic axis's
/// decades from the ratio of its ends, and an infinite one never ends.
fn wants_log_x(plot: &LinePlot) -> bool {
    let xs = || {
        plot.series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
    };
    let lo = xs().fold(f64::INFINITY, f64::min);
    let hi = xs().fold(f64::NEG_INFINITY, f64::max);
    lo > 0.0 && (LOG_X_SPREAD..=LARGEST).contains(&(hi / lo))
}

/// The spread of x (largest over smallest) from which the axis is
/// logarithmic.
const LOG_X_SPREAD: f64 = 100.0;

/// The corners a legend may take, in order of preference.
const LEGEND_CORNERS: [SeriesLabelPosition; 4] = [
    SeriesLabelPosition::UpperRight,
    SeriesLabelPosition::UpperLeft,
    SeriesLabelPosition::LowerRight,
    SeriesLabelPosition::LowerLeft,
];

/// The corner for the legend of `plot`, drawn over the axis ranges `x`
/// and `y` (`x` already logarithmic when `log_x`): the one whose patch of
/// the chart, about the legend's size, the lines cross least, sampled
/// along each segment; the first of [`LEGEND_CORNERS`] on a tie. Fault
/// rates fall with memory and leave the upper right free; a script that
/// grows its work with memory draws rising lines there instead.
fn legend_corner(
    plot: &LinePlot,
    x: (f64, f64),
    y: (f64, f64),
    log_x: bool,
) -> SeriesLabelPosition {
    // The legend's share of the chart: a fixed width, and a line a
    // series.
    let width = 0.25;
    let height = (0.05 + 0.055 * plot.series.len() as f64).min(0.9);
    let unit_x = |v: f64| {
        if log_x {
            (v.ln() - x.0.ln()) / (x.1.ln() - x.0.ln())
        } else {
            (v - x.0) / (x.1 - x.0)
        }
    };
    let unit = |(px, py): (f64, f64)| (unit_x(px), (py - y.0) / (y.1 - y.0));
    let covers = |corner: &SeriesLabelPosition, (ux, uy): (f64, f64)| {
        let right = ux >= 1.0 - width;
        let left = ux <= width;
        let upper = uy >= 1.0 - height;
        let lower = uy <= height;
        match corner {
            SeriesLabelPosition::UpperRight => upper && right,
            SeriesLabelPosition::UpperLeft => upper && left,
            SeriesLabelPosition::LowerRight => lower && right,
            _ => lower && left,
        }
    };
    // Samples along every segment, so a line crossing a corner between
    // two far points counts too.
    const STEPS: usize = 16;
    let samples: Vec<(f64, f64)> = plot
        .series
        .iter()
        .flat_map(|s| {
            let points: Vec<(f64, f64)> = s.points.iter().map(|&p| unit(p)).collect();
            let ends = points.last().copied();
            points
                .windows(2)
                .flat_map(|w| {
                    (0..STEPS).map(move |i| {
                        let t = i as f64 / STEPS as f64;
                        (
                            w[0].0 + (w[1].0 - w[0].0) * t,
                            w[0].1 + (w[1].1 - w[0].1) * t,
                        )
                    })
                })
                .chain(ends)
                .collect::<Vec<_>>()
        })
        .collect();
    let crossings =
        |corner: &SeriesLabelPosition| samples.iter().filter(|&&p| covers(corner, p)).count();
    LEGEND_CORNERS
        .into_iter()
        .min_by_key(crossings)
        .unwrap_or(SeriesLabelPosition::UpperRight)
}

fn draw<DB: DrawingBackend>(
    plot: &LinePlot,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let points = || plot.series.iter().flat_map(|s| s.points.iter());
    let (y0, y1) = span(points().map(|p| p.1), true);
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(&plot.title, (FAMILY, 24))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(80);
    if wants_log_x(plot) {
        let lo = points().map(|p| p.0).fold(f64::INFINITY, f64::min) / 1.2;
        let hi = points().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max) * 1.2;
        let corner = legend_corner(plot, (lo, hi), (y0, y1), true);
        let chart = builder.build_cartesian_2d((lo..hi).log_scale(), y0..y1)?;
        draw_lines(plot, chart, corner)
    } else {
        let (x0, x1) = span(points().map(|p| p.0), false);
        let corner = legend_corner(plot, (x0, x1), (y0, y1), false);
        let chart = builder.build_cartesian_2d(x0..x1, y0..y1)?;
        draw_lines(plot, chart, corner)
    }
}

/// The mesh, the series and the legend (in `corner`), on a linear or
/// logarithmic x axis.
fn draw_lines<'a, DB, X>(
    plot: &LinePlot,
    mut chart: ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>,
    corner: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(&plot.x_label)
        .y_desc(&plot.y_label)
        .label_style((FAMILY, 14))
        .axis_desc_style((FAMILY, 16))
        .draw()?;
    for (i, s) in plot.series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(&s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
        chart.draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FAMILY, 14))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(policy: &str, frames: u64, fault_rate: f64) -> Row {
        Row {
            arch: "x86-64".into(),
            page_bytes: 4096,
            tlb: "default".into(),
            tlb_entries: Some(1788),
            model: "full".into(),
            policy: policy.into(),
            frames,
            mem_bytes: frames * 4096,
            references: 1000,
            distinct_pages: Some(300),
            faults: (fault_rate * 1000.0) as u64,
            fault_rate,
            evictions: Some(0),
            write_backs: Some(0),
            tlb_hits: Some(900),
            tlb_hit_rate: Some(0.9),
            walks: Some(100),
            page_table_bytes: Some(16384),
            skipped_lines: 0,
        }
    }

    fn temp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("vmlab-plot-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn fault_rate_plot_has_one_series_per_policy_sorted_by_memory() {
        let rows = [
            row("lru", 512, 0.2),
            row("lru", 256, 0.4),
            row("fifo", 256, 0.5),
            row("fifo", 512, 0.3),
        ];
        let plot = sweep_plot(&rows).unwrap();
        assert_eq!(plot.title, "Fault rate vs physical memory");
        assert_eq!(plot.x_label, "physical memory (MiB)");
        assert_eq!(
            plot.series,
            vec![
                Series {
                    name: "lru".into(),
                    points: vec![(1.0, 0.4), (2.0, 0.2)]
                },
                Series {
                    name: "fifo".into(),
                    points: vec![(1.0, 0.5), (2.0, 0.3)]
                },
            ]
        );
    }

    #[test]
    fn varying_tlb_sizes_make_a_tlb_plot_and_curve_rows_an_mrc() {
        let mut a = row("lru", 100, 0.2);
        let mut b = a.clone();
        a.tlb = "l1d:8:2,l1i:8:2".into();
        a.tlb_entries = Some(16);
        a.tlb_hit_rate = Some(0.5);
        b.tlb_hit_rate = Some(0.95);
        let plot = sweep_plot(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(plot.x_label, "TLB entries (all levels and arrays)");
        assert_eq!(plot.series.len(), 1);
        assert_eq!(plot.series[0].points, vec![(16.0, 0.5), (1788.0, 0.95)]);
        for r in [&mut a, &mut b] {
            r.model = "mrc-exact".into();
            r.tlb = "-".into();
            r.tlb_entries = None;
        }
        b.model = "shards-rate=0.1".into();
        let plot = sweep_plot(&[a, b]).unwrap();
        assert_eq!(plot.title, "LRU miss-ratio curve");
        let names: Vec<&str> = plot.series.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["mrc-exact", "shards-rate=0.1"]);
        assert_eq!(plot.x_label, "physical memory (KiB)");
    }

    #[test]
    fn svg_holds_the_title_axis_labels_and_legend() {
        let rows = [
            row("lru", 256, 0.4),
            row("lru", 512, 0.2),
            row("s3-fifo", 256, 0.3),
            row("s3-fifo", 512, 0.1),
        ];
        let plot = sweep_plot(&rows).unwrap();
        let path = temp("p.svg");
        render(&plot, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        for text in [
            "Fault rate vs physical memory",
            "physical memory (MiB)",
            "fault rate (faults per reference)",
            // Text elements hold their text on a line of its own.
            "\nlru\n",
            "\ns3-fifo\n",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
    }

    /// The legend goes where the lines are not: the upper right over
    /// falling curves, elsewhere over rising or high flat ones.
    #[test]
    fn the_legend_takes_the_corner_the_lines_leave_free() {
        let plot = |points: Vec<Vec<(f64, f64)>>| LinePlot {
            title: "t".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: points
                .into_iter()
                .enumerate()
                .map(|(i, points)| Series {
                    name: format!("s{i}"),
                    points,
                })
                .collect(),
        };
        let at = |p: &LinePlot| legend_corner(p, (0.0, 10.5), (0.0, 1.05), false);
        let falling = plot(vec![vec![(0.0, 1.0), (2.0, 0.4), (10.0, 0.1)]]);
        assert_eq!(at(&falling), SeriesLabelPosition::UpperRight);
        let rising = plot(vec![
            vec![(0.0, 0.1), (10.0, 1.0)],
            vec![(0.0, 0.2), (10.0, 0.9)],
        ]);
        assert_eq!(at(&rising), SeriesLabelPosition::UpperLeft);
        // A flat line along the top, another low on the left.
        let high = plot(vec![
            vec![(0.0, 1.0), (10.0, 1.0)],
            vec![(0.0, 0.1), (10.0, 0.3)],
        ]);
        assert_eq!(at(&high), SeriesLabelPosition::LowerRight);
        // On a logarithmic axis, by decades: points at 1 and 10 of 1 to
        // 1000 lie in the left third, clear of the right corners.
        let decades = plot(vec![vec![(1.0, 1.0), (10.0, 0.9), (1000.0, 0.1)]]);
        let log = legend_corner(&decades, (1.0, 1000.0), (0.0, 1.05), true);
        assert_eq!(log, SeriesLabelPosition::UpperRight);
        let linear = legend_corner(&decades, (1.0, 1000.0), (0.0, 1.05), false);
        assert_eq!(linear, SeriesLabelPosition::UpperRight);
        // Rising in the second decade: high over the right two thirds on
        // a logarithmic axis, over nearly all of a linear one.
        let rise = plot(vec![vec![
            (1.0, 0.1),
            (10.0, 0.1),
            (100.0, 1.0),
            (1000.0, 1.0),
        ]]);
        let log = legend_corner(&rise, (1.0, 1000.0), (0.0, 1.05), true);
        assert_eq!(log, SeriesLabelPosition::UpperLeft);
        let linear = legend_corner(&rise, (1.0, 1000.0), (0.0, 1.05), false);
        assert_eq!(linear, SeriesLabelPosition::LowerRight);
    }

    #[test]
    fn png_is_a_png_of_the_plot_size() {
        let plot = time_series(
            "resident set",
            "resident pages",
            vec![Series {
                name: "rss".into(),
                points: vec![(0.0, 0.0), (1000.0, 40.0), (2000.0, 64.0)],
            }],
        );
        let path = temp("p.png");
        render(&plot, &path).unwrap();
        let png = std::fs::read(&path).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        assert_eq!((be(&png[16..20]), be(&png[20..24])), SIZE);
        // Text was drawn: a plot without its labels has fewer colours.
        assert!(png.len() > 10_000);
    }

    #[test]
    fn x_axis_turns_logarithmic_over_two_orders_of_magnitude() {
        let over = |xs: &[f64]| {
            time_series(
                "t",
                "v",
                vec![Series {
                    name: "s".into(),
                    points: xs.iter().map(|&x| (x, 1.0)).collect(),
                }],
            )
        };
        assert!(wants_log_x(&over(&[10.0, 100.0, 1000.0])));
        assert!(!wants_log_x(&over(&[10.0, 100.0, 999.0])));
        // Zero has no logarithm: a time series from reference 0 stays linear.
        assert!(!wants_log_x(&over(&[0.0, 1000.0, 1e6])));
        // Nor do ratios that overflow (plotters would count decades for ever).
        assert!(!wants_log_x(&over(&[1e-300, 1e300])));
        assert!(!wants_log_x(&over(&[5e-324, 1.0])));
        // Drawing on the logarithmic axis works too.
        let path = temp("log.svg");
        render(&over(&[10.0, 100.0, 1000.0]), &path).unwrap();
        assert!(std::fs::read_to_string(&path)
            .unwrap()
            .contains("\nreferences\n"));
    }

    /// These once hung in plotters' tick placement: spans and margins that
    /// overflowed, and logarithmic axes whose ends' ratio did.
    #[test]
    fn extreme_values_are_drawn_or_refused_and_never_hang() {
        let with = |points: Vec<(f64, f64)>| {
            let series = vec![Series {
                name: "s".into(),
                points,
            }];
            render(&time_series("t", "v", series), &temp("extreme.svg"))
        };
        for points in [
            vec![(1.0, 1e300), (2.0, -1e300)],
            vec![(-1e300, 1.0), (1e300, 2.0)],
            vec![(1e300, 1.0), (1e300, 2.0)],
            vec![(1.0, 1e300), (2.0, 1e300)],
            vec![(1e-300, 1.0), (1e300, 2.0)],
            vec![(5e-324, 1.0), (1.0, 2.0)],
        ] {
            with(points.clone()).unwrap_or_else(|e| panic!("{points:?}: {e}"));
        }
        for bad in [1e308, f64::INFINITY, f64::NAN] {
            let e = with(vec![(1.0, 1.0), (2.0, bad)]).err().unwrap().0;
            assert!(e.ends_with("expected values from -1e300 to 1e300"), "{e}");
            assert!(with(vec![(bad, 1.0)]).is_err());
        }
    }

    #[test]
    fn unknown_extension_is_refused_and_nothing_written() {
        let plot = time_series("t", "v", vec![]);
        let path = temp("p.pdf");
        let e = render(&plot, &path).err().unwrap().0;
        assert!(
            e.ends_with("expected a file name ending in .svg or .png"),
            "{e}"
        );
        assert!(!path.exists());
    }

    #[test]
    fn time_series_csv_gives_a_series_per_column() {
        let csv = Csv::parse("ts.csv", "references,rss,faults\n0,0,\n100,5,2\n200,9,3\n").unwrap();
        let plot = time_series_from_csv(&csv).unwrap();
        assert_eq!(plot.x_label, "references");
        assert_eq!(plot.y_label, "value");
        assert_eq!(
            plot.series[0].points,
            vec![(0.0, 0.0), (100.0, 5.0), (200.0, 9.0)]
        );
        assert_eq!(plot.series[1].points, vec![(100.0, 2.0), (200.0, 3.0)]);
        let bad = Csv::parse("ts.csv", "references,rss\n0,0\n100,five\n").unwrap();
        let e = time_series_from_csv(&bad).err().unwrap().0;
        assert_eq!(
            e,
            "ts.csv:3:5: column rss: expected a number from -1e300 to 1e300 or nothing, found \"five\""
        );
    }
}
