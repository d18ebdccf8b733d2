//! Percentiles and the one-line summaries `jit-bench` and the load run print.

/// The `p` quantile (0.0–1.0) of `sorted` (nearest rank); NaN when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Sorts `samples` and returns (p50, p99, max).
pub fn p50_p99_max(samples: &mut [f64]) -> (f64, f64, f64) {
    samples.sort_by(f64::total_cmp);
    (
        percentile(samples, 0.5),
        percentile(samples, 0.99),
        samples.last().copied().unwrap_or(f64::NAN),
    )
}

/// Prints `name  p50 … µs   p99 … µs   (n=…)` for samples in microseconds; returns (p50, p99).
pub fn summary(name: &str, mut us: Vec<f64>) -> (f64, f64) {
    let (p50, p99, _) = p50_p99_max(&mut us);
    println!(
        "{name:<40} p50 {p50:>8.1} µs   p99 {p99:>8.1} µs   (n={})",
        us.len()
    );
    (p50, p99)
}

/// Like [`summary`] for samples in milliseconds, with the maximum.
pub fn summary_ms(name: &str, mut ms: Vec<f64>) -> (f64, f64, f64) {
    let (p50, p99, max) = p50_p99_max(&mut ms);
    println!(
        "{name:<40} p50 {p50:>8.2} ms   p99 {p99:>8.2} ms   max {max:>8.2} ms   (n={})",
        ms.len()
    );
    (p50, p99, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 0.5), 51.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&v, 1.0), 100.0);
        assert!(percentile(&[], 0.5).is_nan());
    }
}
