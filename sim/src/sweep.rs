//! Sweeps and comparisons: many runs of one scenario, side by side.
//!
//! A sweep varies fields (`--vary KEY=V1,V2,...`, every combination) and ranks the settings
//! by a stated objective; the comparison runs our matcher and every baseline on the same
//! population. Both mark the Pareto front of mean time to match against mean quality: the
//! settings no other setting beats on both at once.

use crate::metrics::Report;

/// One `--vary`: a dotted field and the values to try (TOML syntax each).
#[derive(Clone, Debug, PartialEq)]
pub struct Vary {
    /// The field.
    pub key: String,
    /// The values.
    pub values: Vec<String>,
}

/// Parses `KEY=V1,V2,...`. Commas inside brackets, braces or quotes do not split values, so
/// `matcher.queues.*.skill_window={ kind = "linear", start = 50.0, end = 400.0, over_ms = 30000 }`
/// is one value.
pub fn parse_vary(text: &str) -> Result<Vary, String> {
    let (key, values) = text
        .split_once('=')
        .ok_or_else(|| format!("`--vary {text}`: expected KEY=V1,V2,..."))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("`--vary {text}`: the key is empty"));
    }
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut quoted = false;
    let mut current = String::new();
    for c in values.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(current.trim().to_string());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    out.push(current.trim().to_string());
    if quoted || depth != 0 {
        return Err(format!("`--vary {text}`: unbalanced quotes or brackets"));
    }
    if out.iter().any(String::is_empty) {
        return Err(format!("`--vary {text}`: a value is empty"));
    }
    Ok(Vary {
        key: key.to_string(),
        values: out,
    })
}

/// Every combination of the varied values, as lists of (key, value).
pub fn combinations(varies: &[Vary]) -> Vec<Vec<(String, String)>> {
    let mut settings: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for vary in varies {
        settings = settings
            .into_iter()
            .flat_map(|setting| {
                vary.values.iter().map(move |value| {
                    let mut next = setting.clone();
                    next.push((vary.key.clone(), value.clone()));
                    next
                })
            })
            .collect();
    }
    settings
}

/// Whether `a` is at least as good as `b` on time and quality, and better on one.
pub fn dominates(a: &Report, b: &Report) -> bool {
    let (ta, qa, tb, qb) = (a.ttm_s.mean, a.quality.mean, b.ttm_s.mean, b.quality.mean);
    ta <= tb && qa >= qb && (ta < tb || qa > qb)
}

/// Indices of the reports no other report dominates, in order of mean time to match.
pub fn pareto_front(reports: &[&Report]) -> Vec<usize> {
    let mut front: Vec<usize> = (0..reports.len())
        .filter(|i| !reports.iter().any(|other| dominates(other, reports[*i])))
        .collect();
    front.sort_by(|a, b| reports[*a].ttm_s.mean.total_cmp(&reports[*b].ttm_s.mean));
    front
}

/// How equal two mean times to match must be to count as equal: within 5% or half a second.
pub fn same_time(a: f64, b: f64) -> bool {
    (a - b).abs() <= (0.05 * a.max(b)).max(0.5)
}

/// How equal two mean qualities must be to count as equal: within 0.005.
pub fn same_quality(a: f64, b: f64) -> bool {
    (a - b).abs() <= 0.005
}

/// The issue's rule: ours beats a baseline with a lower mean time to match at equal or better
/// mean quality, or a better mean quality at equal (or lower) time.
pub fn beats(ours: &Report, baseline: &Report) -> bool {
    let (to, qo, tb, qb) = (
        ours.ttm_s.mean,
        ours.quality.mean,
        baseline.ttm_s.mean,
        baseline.quality.mean,
    );
    let faster = to < tb && !same_time(to, tb) && (qo >= qb || same_quality(qo, qb));
    let better = qo > qb && !same_quality(qo, qb) && (to <= tb || same_time(to, tb));
    faster || better
}

/// The seeds' targets: mean time to match under 30 s with mean quality of 0.85 or more.
pub fn meets_targets(report: &Report, min_quality: f64) -> bool {
    report.ttm_s.mean < 30.0 && report.quality.mean >= min_quality
}

/// The sweep's objective, stated in its table: settings that meet the targets first, by
/// lowest mean time to match; then the others, by highest mean quality.
pub fn rank(reports: &[&Report], min_quality: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..reports.len()).collect();
    order.sort_by(|a, b| {
        let (ra, rb) = (reports[*a], reports[*b]);
        let (ma, mb) = (
            meets_targets(ra, min_quality),
            meets_targets(rb, min_quality),
        );
        mb.cmp(&ma).then_with(|| {
            if ma {
                ra.ttm_s.mean.total_cmp(&rb.ttm_s.mean)
            } else {
                rb.quality.mean.total_cmp(&ra.quality.mean)
            }
        })
    });
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_splits_on_top_level_commas_only() {
        let vary = parse_vary("population.players=1,2, 3").unwrap();
        assert_eq!(vary.values, ["1", "2", "3"]);
        let vary = parse_vary(
            r#"matcher.queues.*.skill_window={ kind = "linear", start = 50.0, end = 400.0, over_ms = 30000 },{ kind = "steps", steps = [{ after_ms = 0, value = 1.0 }] }"#,
        )
        .unwrap();
        assert_eq!(vary.values.len(), 2);
        assert!(parse_vary("nokey").is_err());
        assert!(parse_vary("a=1,,2").is_err());
        assert!(parse_vary("a={ x = 1").is_err());
    }

    #[test]
    fn combinations_are_the_product() {
        let varies = [parse_vary("a=1,2").unwrap(), parse_vary("b=x,y,z").unwrap()];
        let settings = combinations(&varies);
        assert_eq!(settings.len(), 6);
        assert_eq!(
            settings[5],
            [("a".into(), "2".into()), ("b".into(), "z".into())]
        );
    }
}
