//! The report's figures, drawn with `plotters` into SVG strings (inlined in the page).

use plotters::prelude::*;

/// Figure width and height in pixels.
const W: u32 = 390;
const H: u32 = 240;
const FONT: (&str, u32) = ("sans-serif", 15);
const BAR: RGBColor = RGBColor(70, 110, 170);

/// A histogram of `values` (non-finite values left out) in `bins` equal bins.
pub fn histogram(title: &str, xlabel: &str, values: &[f64], bins: usize) -> anyhow::Result<String> {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let lo = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if finite.is_empty() {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    };
    let bins = bins.max(1);
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0u64; bins];
    for v in &finite {
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(0).max(1) as f64 * 1.05;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, FONT)
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d(lo..hi, 0f64..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_desc(xlabel)
            .y_desc("count")
            .x_labels(6)
            .y_labels(5)
            .draw()?;
        chart.draw_series(counts.iter().enumerate().map(|(i, &c)| {
            let a = lo + i as f64 * width;
            Rectangle::new([(a, 0.0), (a + width, c as f64)], BAR.filled())
        }))?;
        root.present()?;
    }
    Ok(svg)
}

/// Stacked traces, one row per channel (each scaled to its own range), labelled by name; `rate`
/// in samples per second.
pub fn traces(
    title: &str,
    names: &[String],
    rate: f64,
    rows: &[Vec<f32>],
) -> anyhow::Result<String> {
    let n = rows.len().max(1);
    let len = rows.iter().map(Vec::len).max().unwrap_or(0).max(2);
    let secs = len as f64 / rate.max(1e-9);
    let mut svg = String::new();
    {
        let height = (60 + 34 * n as u32).min(900);
        let root = SVGBackend::with_string(&mut svg, (2 * W, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, FONT)
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..secs, -0.5f64..(n as f64 - 0.5))?;
        let label = |y: &f64| {
            let i = y.round();
            if (y - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            // Row 0 at the top.
            names.get(n - 1 - i as usize).cloned().unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("seconds")
            .y_labels(n)
            .y_label_formatter(&label)
            .draw()?;
        for (c, row) in rows.iter().enumerate() {
            let lo = row.iter().copied().fold(f32::INFINITY, f32::min);
            let hi = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let span = f64::from((hi - lo).max(1e-12));
            let base = (n - 1 - c) as f64;
            let step = (row.len() / 1200).max(1);
            let color = Palette99::pick(c).to_rgba();
            chart.draw_series(LineSeries::new(
                row.iter().enumerate().step_by(step).map(|(k, &v)| {
                    let y = base + (f64::from(v - lo) / span - 0.5) * 0.85;
                    (k as f64 / rate, y)
                }),
                color.stroke_width(1),
            ))?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// A grey-scale image of `h` rows of `w` values (row 0 drawn at the top), scaled between the
/// 1st and 99th percentile; runs of equal grey become one rectangle to keep the SVG small.
pub fn image(title: &str, w: usize, h: usize, values: &[f32]) -> anyhow::Result<String> {
    // Nearest-neighbour down to at most 64 pixels a side.
    let step = w.max(h).div_ceil(64).max(1);
    let (w, h, values) = if step > 1 {
        let (nw, nh) = (w.div_ceil(step), h.div_ceil(step));
        let v: Vec<f32> = (0..nh)
            .flat_map(|r| (0..nw).map(move |c| (r * step) * w + c * step))
            .map(|i| values.get(i).copied().unwrap_or(0.0))
            .collect();
        (nw, nh, std::borrow::Cow::Owned(v))
    } else {
        (w, h, std::borrow::Cow::Borrowed(values))
    };
    let mut sorted: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    let pick = |q: f64| {
        sorted
            .get(((sorted.len().saturating_sub(1)) as f64 * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (lo, hi) = (pick(0.01), pick(0.99));
    let span = (hi - lo).max(1e-12);
    let level = |v: f32| -> u8 {
        let t = ((v - lo) / span).clamp(0.0, 1.0);
        (t * 31.0).round() as u8
    };
    let px = (192 / w.max(h).max(1) as u32).clamp(1, 4);
    let size = (w.max(1) as u32 * px + 16, h.max(1) as u32 * px + 34);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&BLACK)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 13).into_font().color(&WHITE))
            .margin(8)
            .build_cartesian_2d(0f64..w.max(1) as f64, 0f64..h.max(1) as f64)?;
        let mut rects = Vec::new();
        for r in 0..h {
            let mut c = 0;
            while c < w {
                let g = values.get(r * w + c).map_or(0, |&v| level(v));
                let mut e = c + 1;
                while e < w && values.get(r * w + e).map_or(0, |&v| level(v)) == g {
                    e += 1;
                }
                if g > 0 {
                    let y = (h - r) as f64;
                    let grey = (u32::from(g) * 255 / 31) as u8;
                    rects.push(Rectangle::new(
                        [(c as f64, y), (e as f64, y - 1.0)],
                        RGBColor(grey, grey, grey).filled(),
                    ));
                }
                c = e;
            }
        }
        chart.draw_series(rects)?;
        root.present()?;
    }
    Ok(svg)
}

/// Base composition along a DNA window: one line per base (A, C, G, T, N), fraction per bin.
pub fn composition(title: &str, bins: &[[f64; 5]], bin_bp: usize) -> anyhow::Result<String> {
    const BASES: [(&str, RGBColor); 5] = [
        ("A", RGBColor(40, 160, 60)),
        ("C", RGBColor(40, 90, 200)),
        ("G", RGBColor(230, 160, 20)),
        ("T", RGBColor(210, 40, 40)),
        ("N", RGBColor(120, 120, 120)),
    ];
    let end = (bins.len() * bin_bp).max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, FONT)
            .margin(8)
            .x_label_area_size(34)
            .y_label_area_size(52)
            .build_cartesian_2d(0f64..end, 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_desc("position (bp)")
            .y_desc("fraction")
            .draw()?;
        for (b, (name, color)) in BASES.iter().enumerate() {
            chart
                .draw_series(LineSeries::new(
                    bins.iter()
                        .enumerate()
                        .map(|(i, f)| ((i as f64 + 0.5) * bin_bp as f64, f[b])),
                    color.stroke_width(2),
                ))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
    }
    Ok(svg)
}
