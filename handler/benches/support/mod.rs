//! What the benchmarks share: numbers from the environment and the min / median / max line.
#![allow(dead_code)]

/// `name` as a number, or `default` when unset or not a number.
pub(crate) fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// min / median / max, with `decimals` digits after the point (`-` for no samples).
pub(crate) fn spread(mut v: Vec<f64>, decimals: usize) -> String {
    v.sort_by(f64::total_cmp);
    let (Some(first), Some(last)) = (v.first(), v.last()) else {
        return "-".to_owned();
    };
    let median = v[v.len() / 2];
    format!("{first:.decimals$} / {median:.decimals$} / {last:.decimals$}")
}
