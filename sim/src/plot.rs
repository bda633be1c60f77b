//! Charts (plotters), each written twice: PNG for a quick look, SVG for documents.
//!
//! Text is drawn with DejaVu Sans, embedded in the binary (`assets/`, Bitstream Vera licence),
//! so charts render the same on any machine, with no system fonts or fontconfig.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

const FONT: &str = "sans-serif";
const SIZE: (u32, u32) = (960, 600);
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded file is a valid TrueType font; if it were not, text would be missing
        // and the chart calls would report it.
        let _ = plotters::style::register_font(
            FONT,
            FontStyle::Normal,
            include_bytes!("../assets/DejaVuSans.ttf"),
        );
    });
}

/// A labelled point of a scatter chart.
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    /// Its label.
    pub label: String,
    /// Mean time to match, in seconds.
    pub ttm_s: f64,
    /// Mean quality.
    pub quality: f64,
    /// Drawn larger and in another colour (the Pareto front, or our default).
    pub highlight: bool,
}

/// A histogram: `bins` are (start, count), each `width` wide.
pub fn histogram(
    stem: &Path,
    title: &str,
    x_label: &str,
    bins: &[(f64, u64)],
    width: f64,
) -> Result<(), String> {
    register_font();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    draw_histogram(
        BitMapBackend::new(&png, SIZE).into_drawing_area(),
        title,
        x_label,
        bins,
        width,
    )?;
    draw_histogram(
        SVGBackend::new(&svg, SIZE).into_drawing_area(),
        title,
        x_label,
        bins,
        width,
    )
}

fn draw_histogram<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    x_label: &str,
    bins: &[(f64, u64)],
    width: f64,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let fail =
        |error: DrawingAreaErrorKind<DB::ErrorType>| format!("cannot draw `{title}`: {error}");
    root.fill(&WHITE).map_err(fail)?;
    let x_max = bins
        .last()
        .map_or(1.0, |(start, _)| start + width)
        .max(width);
    let y_max = bins
        .iter()
        .map(|(_, count)| *count)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x_max, 0u64..(y_max + y_max / 10 + 1))
        .map_err(fail)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc("count")
        .label_style((FONT, 14))
        .draw()
        .map_err(fail)?;
    chart
        .draw_series(bins.iter().map(|(start, count)| {
            Rectangle::new(
                [(*start, 0), (*start + width * 0.95, *count)],
                PALETTE[0].mix(0.8).filled(),
            )
        }))
        .map_err(fail)?;
    root.present().map_err(fail)
}

/// Lines over time: each series is (name, points of (seconds, value)).
pub fn lines(
    stem: &Path,
    title: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), String> {
    register_font();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    draw_lines(
        BitMapBackend::new(&png, SIZE).into_drawing_area(),
        title,
        y_label,
        series,
    )?;
    draw_lines(
        SVGBackend::new(&svg, SIZE).into_drawing_area(),
        title,
        y_label,
        series,
    )
}

fn draw_lines<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let fail =
        |error: DrawingAreaErrorKind<DB::ErrorType>| format!("cannot draw `{title}`: {error}");
    root.fill(&WHITE).map_err(fail)?;
    let points = series.iter().flat_map(|(_, points)| points.iter());
    let x_max = points.clone().map(|(x, _)| *x).fold(1.0, f64::max);
    let y_max = points.map(|(_, y)| *y).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(fail)?;
    chart
        .configure_mesh()
        .x_desc("simulated time (s)")
        .y_desc(y_label)
        .label_style((FONT, 14))
        .draw()
        .map_err(fail)?;
    for (index, (name, points)) in series.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                colour.stroke_width(2),
            ))
            .map_err(fail)?
            .label(name.as_str())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(fail)?;
    root.present().map_err(fail)
}

/// Mean time to match against mean quality, one labelled point per run; `front` (already in
/// order of time) is joined by a line.
pub fn tradeoff(
    stem: &Path,
    title: &str,
    points: &[Point],
    front: &[(f64, f64)],
) -> Result<(), String> {
    register_font();
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    draw_tradeoff(
        BitMapBackend::new(&png, SIZE).into_drawing_area(),
        title,
        points,
        front,
    )?;
    draw_tradeoff(
        SVGBackend::new(&svg, SIZE).into_drawing_area(),
        title,
        points,
        front,
    )
}

fn draw_tradeoff<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    points: &[Point],
    front: &[(f64, f64)],
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let fail =
        |error: DrawingAreaErrorKind<DB::ErrorType>| format!("cannot draw `{title}`: {error}");
    root.fill(&WHITE).map_err(fail)?;
    let x_max = points.iter().map(|p| p.ttm_s).fold(1.0, f64::max) * 1.15;
    let y_min = points.iter().map(|p| p.quality).fold(1.0, f64::min);
    let y_low = (y_min - 0.05).max(0.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..x_max, y_low..1.0)
        .map_err(fail)?;
    chart
        .configure_mesh()
        .x_desc("mean time to match (s), lower is better")
        .y_desc("mean match quality, higher is better")
        .label_style((FONT, 14))
        .draw()
        .map_err(fail)?;
    if front.len() > 1 {
        chart
            .draw_series(LineSeries::new(
                front.iter().copied(),
                PALETTE[3].stroke_width(2),
            ))
            .map_err(fail)?
            .label("Pareto front")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], PALETTE[3].stroke_width(2))
            });
    }
    chart
        .draw_series(points.iter().map(|point| {
            let (colour, radius) = if point.highlight {
                (PALETTE[3], 6)
            } else {
                (PALETTE[0], 4)
            };
            EmptyElement::at((point.ttm_s, point.quality))
                + Circle::new((0, 0), radius, colour.filled())
                + Text::new(point.label.clone(), (8, -14), (FONT, 13).into_font())
        }))
        .map_err(fail)?;
    if front.len() > 1 {
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(fail)?;
    }
    root.present().map_err(fail)
}
