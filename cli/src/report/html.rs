//! The report page: one HTML file with inline CSS and SVG, nothing fetched from a network.

use std::fmt::Write as _;

use super::Options;
use super::collect::{self, DatasetView, ReasonGroup};
use super::plot;
use super::stats::ModalityStats;
use super::tables::TableNa;

/// The page's sections, in order: (id, heading). Tests look for each id.
pub const SECTIONS: [(&str, &str); 5] = [
    ("counts", "Counts"),
    ("failures", "Failures and skips"),
    ("distributions", "Value distributions"),
    ("previews", "Previews"),
    ("provenance", "Provenance"),
];

const STYLE: &str = "body{font-family:sans-serif;margin:24px;color:#222;max-width:1400px}\
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:28px}\
h3{font-size:15px;margin:14px 0 6px}table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}\
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f3f3f3}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.figs{display:flex;flex-wrap:wrap;gap:10px}\
.figs svg{border:1px solid #eee}td code{word-break:break-all}.note{color:#666;font-size:12px}code{font-size:12px}";

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            c if c.is_control() && c != '\n' => {}
            c => o.push(c),
        }
    }
    o
}

/// Everything the page shows.
pub struct Page<'a> {
    /// The datasets.
    pub views: &'a [DatasetView],
    /// Failure and skip groups.
    pub reasons: &'a [ReasonGroup],
    /// Per-modality statistics.
    pub stats: &'a [ModalityStats],
    /// Table NA rates.
    pub tables: &'a [TableNa],
    /// The report's options.
    pub opts: &'a Options,
}

/// Renders the page.
pub fn render(p: &Page<'_>) -> anyhow::Result<String> {
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    h.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">");
    let names: Vec<String> = p.views.iter().map(collect::label).collect();
    write!(
        h,
        "<title>bomdata QC report: {}</title><style>{STYLE}</style></head><body>",
        esc(&names.join(", "))
    )?;
    write!(h, "<h1>bomdata QC report: {}</h1>", esc(&names.join(", ")))?;
    h.push_str("<p class=\"note\">Subjects appear only as pseudonyms; source paths in failure examples keep their file name with subject labels and long numbers masked.</p><nav>");
    for (id, title) in SECTIONS {
        write!(h, "<a href=\"#{id}\">{title}</a> · ")?;
    }
    h.push_str("</nav>");
    counts(&mut h, p)?;
    failures(&mut h, p.reasons)?;
    distributions(&mut h, p.stats, p.tables)?;
    previews(&mut h, p.stats)?;
    provenance(&mut h, p)?;
    h.push_str("</body></html>\n");
    Ok(h)
}

fn section(h: &mut String, i: usize) -> std::fmt::Result {
    let (id, title) = SECTIONS[i];
    write!(h, "<section id=\"{id}\"><h2>{title}</h2>")
}

fn count_table(h: &mut String, what: &str, m: &collect::Counts) -> std::fmt::Result {
    write!(
        h,
        "<h3>by {what}</h3><table><tr><th>dataset</th><th>{what}</th><th>samples</th><th>MB</th></tr>"
    )?;
    for ((d, k), (n, b)) in m {
        write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=n>{n}</td><td class=n>{:.2}</td></tr>",
            esc(d),
            esc(k),
            *b as f64 / 1e6
        )?;
    }
    h.push_str("</table>");
    Ok(())
}

fn counts(h: &mut String, p: &Page<'_>) -> anyhow::Result<()> {
    section(h, 0)?;
    count_table(
        h,
        "source",
        &collect::count_by(p.views, |s| s.source.clone()),
    )?;
    count_table(
        h,
        "modality",
        &collect::count_by(p.views, |s| s.modality.clone()),
    )?;
    count_table(h, "split", &collect::count_by(p.views, |s| s.split.clone()))?;
    tables_count(h, p.views)?;
    let subjects = collect::subjects(p.views);
    let mods: Vec<String> = subjects
        .values()
        .flat_map(|m| m.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    write!(
        h,
        "<h3>by subject</h3><p class=note>{} subjects (pseudonyms){}</p><table><tr><th>subject</th>",
        subjects.len(),
        if subjects.len() > p.opts.max_subject_rows {
            format!(", the first {} shown", p.opts.max_subject_rows)
        } else {
            String::new()
        }
    )?;
    for m in &mods {
        write!(h, "<th>{}</th>", esc(m))?;
    }
    h.push_str("</tr>");
    for (s, per) in subjects.iter().take(p.opts.max_subject_rows) {
        write!(h, "<tr><td><code>{}</code></td>", esc(s))?;
        for m in &mods {
            write!(h, "<td class=n>{}</td>", per.get(m).copied().unwrap_or(0))?;
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></section>");
    Ok(())
}

fn tables_count(h: &mut String, views: &[DatasetView]) -> std::fmt::Result {
    let rows: Vec<(String, &str, u64)> = views
        .iter()
        .flat_map(|v| {
            v.manifest
                .tables
                .iter()
                .map(move |t| (collect::label(v), t.name.as_str(), t.rows))
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    h.push_str("<h3>tables</h3><table><tr><th>dataset</th><th>table</th><th>rows</th></tr>");
    for (d, t, n) in rows {
        write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=n>{n}</td></tr>",
            esc(&d),
            esc(t)
        )?;
    }
    h.push_str("</table>");
    Ok(())
}

fn failures(h: &mut String, groups: &[ReasonGroup]) -> anyhow::Result<()> {
    section(h, 1)?;
    if groups.is_empty() {
        h.push_str("<p>No failed units and no skipped inputs.</p></section>");
        return Ok(());
    }
    h.push_str("<table><tr><th>outcome</th><th>reason</th><th>count</th><th>examples</th></tr>");
    for g in groups {
        write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td>{}</td></tr>",
            g.outcome,
            esc(&g.reason),
            g.count,
            g.examples
                .iter()
                .map(|e| format!("<code>{}</code>", esc(e)))
                .collect::<Vec<_>>()
                .join("<br>")
        )?;
    }
    h.push_str("</table></section>");
    Ok(())
}

fn distributions(
    h: &mut String,
    stats: &[ModalityStats],
    tables: &[TableNa],
) -> anyhow::Result<()> {
    section(h, 2)?;
    h.push_str("<table><tr><th>modality</th><th>samples read</th><th>unreadable</th></tr>");
    for st in stats {
        write!(
            h,
            "<tr><td>{}</td><td class=n>{}</td><td>{}</td></tr>",
            esc(&st.modality),
            st.read,
            st.unreadable.first().map_or_else(String::new, |e| format!(
                "{} (first: {})",
                st.unreadable.len(),
                esc(e)
            ))
        )?;
    }
    h.push_str("</table><div class=figs>");
    for st in stats {
        let m = &st.modality;
        let figs: [(&str, &str, &[f64]); 6] = [
            ("values", st.values_label.as_str(), &st.values),
            ("channel RMS", "RMS per channel (signal units)", &st.rms),
            (
                "line noise",
                "variance at the power-line frequency (%)",
                &st.line_noise,
            ),
            ("GC content", "GC fraction per window", &st.gc),
            ("N fraction", "N fraction per window", &st.n),
            ("soft-masked", "lower-case fraction per window", &st.soft),
        ];
        for (title, xlabel, values) in figs {
            if !values.is_empty() {
                h.push_str(&plot::histogram(
                    &format!("{m}: {title}"),
                    xlabel,
                    values,
                    40,
                )?);
            }
        }
    }
    if !tables.is_empty() {
        let all: Vec<f64> = tables
            .iter()
            .flat_map(|t| t.features.iter().map(|f| 100.0 * f.1))
            .collect();
        h.push_str(&plot::histogram(
            "table features: NA rate",
            "NA rate per feature (%)",
            &all,
            20,
        )?);
    }
    h.push_str("</div>");
    if !tables.is_empty() {
        h.push_str("<h3>tables: missing values</h3><table><tr><th>table</th><th>rows</th><th>features</th><th>NA rate</th><th>most missing</th></tr>");
        for t in tables {
            let mean = t.features.iter().map(|f| f.1).sum::<f64>() / t.features.len().max(1) as f64;
            let mut worst: Vec<&(String, f64)> = t.features.iter().collect();
            worst.sort_by(|a, b| b.1.total_cmp(&a.1));
            let worst: Vec<String> = worst
                .iter()
                .take(3)
                .map(|(n, r)| format!("{} {:.0}%", esc(n), 100.0 * r))
                .collect();
            write!(
                h,
                "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{:.1}%</td><td>{}</td></tr>",
                esc(&t.name),
                t.rows,
                t.features.len(),
                100.0 * mean,
                worst.join(", ")
            )?;
        }
        h.push_str("</table>");
    }
    h.push_str("</section>");
    Ok(())
}

fn previews(h: &mut String, stats: &[ModalityStats]) -> anyhow::Result<()> {
    section(h, 3)?;
    for st in stats {
        let m = esc(&st.modality);
        for (subject, slices) in &st.volumes {
            write!(h, "<h3>{m}: subject {}</h3><div class=figs>", esc(subject))?;
            for (title, w, hh, v) in slices {
                h.push_str(&plot::image(title, *w, *hh, v)?);
            }
            h.push_str("</div>");
        }
        if let Some((label, names, rate, rows)) = &st.traces {
            write!(h, "<h3>{m}: traces</h3><div class=figs>")?;
            h.push_str(&plot::traces(label, names, *rate, rows)?);
            h.push_str("</div>");
        }
        if let Some((label, bins, bin_bp)) = &st.composition {
            write!(h, "<h3>{m}: base composition</h3><div class=figs>")?;
            h.push_str(&plot::composition(label, bins, *bin_bp)?);
            h.push_str("</div>");
        }
    }
    h.push_str("</section>");
    Ok(())
}

fn provenance(h: &mut String, p: &Page<'_>) -> anyhow::Result<()> {
    section(h, 4)?;
    write!(
        h,
        "<p>Report by bomdata {} (options: at most {} samples read per modality, volume previews of at most {} subjects).</p>",
        env!("CARGO_PKG_VERSION"),
        p.opts.max_samples,
        p.opts.max_subjects
    )?;
    h.push_str("<table><tr><th>dataset</th><th>kind</th><th>written by</th><th>sources</th><th>profile / tokenizer and options</th><th>samples</th><th>shards</th><th>fingerprint (XXH3-128 of manifest.json)</th></tr>");
    for v in p.views {
        let m = &v.manifest;
        let profile = match (&m.profile, &m.tokenizer) {
            (Some(pr), _) => format!("{} {}", pr.name, pr.params),
            (None, Some(t)) => serde_json::to_string(t)?,
            (None, None) => "(canonical)".into(),
        };
        write!(
            h,
            "<tr><td>{}</td><td>{:?}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td class=n>{}</td><td class=n>{}</td><td><code>{}</code></td></tr>",
            esc(&collect::label(v)),
            m.kind,
            esc(&m.tool),
            esc(&m.sources.join(", ")),
            esc(&profile),
            m.counts.samples,
            m.counts.shards,
            esc(&v.fingerprint)
        )?;
    }
    h.push_str("</table></section>");
    Ok(())
}
