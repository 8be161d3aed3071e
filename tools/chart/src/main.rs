//! Draws the read benchmark's chart: req/s of ours and of the zero-work server against the
//! number of sessions, and their ratio per case, from the CSV that `tools/bench` writes.
//!
//! Usage: gls-bench-chart <bench.csv> <out.png> <font.ttf>

use plotters::prelude::*;
use plotters::style::FontStyle;
use std::collections::BTreeMap;
use std::error::Error;

/// One row of bench.csv: sessions, case, zero-work req/s, ours req/s, ratio.
struct Row {
    n: f64,
    case: String,
    zero: f64,
    ours: f64,
    ratio: f64,
}

fn read(path: &str) -> Result<Vec<Row>, Box<dyn Error>> {
    let text = std::fs::read_to_string(path)?;
    let mut rows = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 5 {
            return Err(format!("bad line in {path}: {line}").into());
        }
        rows.push(Row {
            n: f[0].parse()?,
            case: f[1].to_string(),
            zero: f[2].parse()?,
            ours: f[3].parse()?,
            ratio: f[4].parse()?,
        });
    }
    Ok(rows)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, csv, out, font] = args.as_slice() else {
        return Err("usage: gls-bench-chart <bench.csv> <out.png> <font.ttf>".into());
    };
    let bytes: &'static [u8] = Box::leak(std::fs::read(font)?.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| "font not usable")?;
    let rows = read(csv)?;
    let mut cases: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        cases.entry(r.case.as_str()).or_default().push(r);
    }
    let (lo, hi) = rows
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(r.n), hi.max(r.n)));
    let (lo, hi) = (lo / 1.5, hi * 1.5);
    let top = rows.iter().map(|r| r.zero.max(r.ours)).fold(0.0, f64::max) * 1.1;

    let root = BitMapBackend::new(out, (1400, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(700);
    let palette = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];

    let mut rps = ChartBuilder::on(&left)
        .caption("ListStreamSessionsByAccount req/s (first pages)", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..top)?;
    rps.configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("sessions stored")
        .y_desc("requests per second")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    let first: Vec<(&str, &Vec<&Row>)> = cases
        .iter()
        .filter(|(c, _)| c.starts_with("first page") && !c.contains("Status"))
        .map(|(c, v)| (*c, v))
        .collect();
    for (i, (case, points)) in first.iter().enumerate() {
        let color = palette[i % palette.len()];
        let ours: Vec<(f64, f64)> = points.iter().map(|r| (r.n, r.ours)).collect();
        let zero: Vec<(f64, f64)> = points.iter().map(|r| (r.n, r.zero)).collect();
        rps.draw_series(LineSeries::new(ours.clone(), color.stroke_width(3)))?
            .label(format!("ours, {case}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(3)));
        rps.draw_series(ours.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
        rps.draw_series(zero.iter().map(|p| Circle::new(*p, 4, color.stroke_width(1))))?;
        rps.draw_series(LineSeries::new(zero, ShapeStyle::from(color).stroke_width(1)))?
            .label(format!("zero-work, {case}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(1)));
    }
    rps.configure_series_labels()
        .position(SeriesLabelPosition::MiddleRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;

    let mut ratio = ChartBuilder::on(&right)
        .caption("ours / zero-work, every case", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)?;
    ratio
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .x_desc("sessions stored")
        .y_desc("ratio")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    for (target, label) in [(0.5, "target, 25 items"), (0.3, "target, 100 items")] {
        ratio
            .draw_series(DashedLineSeries::new(
                vec![(lo, target), (hi, target)],
                6,
                4,
                BLACK.stroke_width(1),
            ))?
            .label(label)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.stroke_width(1)));
    }
    for (i, (case, points)) in cases.iter().enumerate() {
        let color = palette[i % palette.len()];
        let line: Vec<(f64, f64)> = points.iter().map(|r| (r.n, r.ratio)).collect();
        ratio
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))?
            .label(*case)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        ratio.draw_series(line.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
    }
    ratio
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 12))
        .draw()?;
    root.present()?;
    Ok(())
}
