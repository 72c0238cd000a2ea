//! Order statistics of samples: median, p10, p90, and ratios between medians. Pure.

use serde::Serialize;

/// The summary printed for one runtime in one row.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// 50th percentile.
    pub median: f64,
    /// 10th percentile.
    pub p10: f64,
    /// 90th percentile.
    pub p90: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
}

/// The `q`-quantile (0 ≤ q ≤ 1) of already sorted samples, interpolating linearly between the
/// two closest ranks (numpy's default). `None` for no samples.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let q = q.clamp(0.0, 1.0);
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    let frac = pos - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// Summarizes samples; `None` when there are none. NaNs are ignored.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let mut sorted: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(|a, b| a.total_cmp(b));
    Some(Summary {
        n: sorted.len(),
        median: quantile_sorted(&sorted, 0.5)?,
        p10: quantile_sorted(&sorted, 0.1)?,
        p90: quantile_sorted(&sorted, 0.9)?,
        min: sorted[0],
        max: sorted[sorted.len() - 1],
    })
}

/// The median of samples, `None` when there are none.
pub fn median(samples: &[f64]) -> Option<f64> {
    summarize(samples).map(|s| s.median)
}

/// `value / reference`, `None` when the reference is not a positive number.
pub fn ratio(value: f64, reference: f64) -> Option<f64> {
    if reference > 0.0 && reference.is_finite() && value.is_finite() {
        Some(value / reference)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_between_ranks() {
        let s: Vec<f64> = (1..=11).map(f64::from).collect();
        assert_eq!(quantile_sorted(&s, 0.5), Some(6.0));
        assert_eq!(quantile_sorted(&s, 0.1), Some(2.0));
        assert_eq!(quantile_sorted(&s, 0.9), Some(10.0));
        assert_eq!(quantile_sorted(&[1.0, 2.0], 0.5), Some(1.5));
        assert_eq!(quantile_sorted(&[], 0.5), None);
    }

    #[test]
    fn summary_sorts_and_ignores_nan() {
        let s = summarize(&[5.0, f64::NAN, 1.0, 3.0]).unwrap();
        assert_eq!(s.n, 3);
        assert_eq!(s.median, 3.0);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 5.0);
        assert!((s.p10 - 1.4).abs() < 1e-9);
        assert!((s.p90 - 4.6).abs() < 1e-9);
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[f64::NAN]), None);
    }

    #[test]
    fn single_sample_is_every_quantile() {
        let s = summarize(&[7.0]).unwrap();
        assert_eq!((s.median, s.p10, s.p90), (7.0, 7.0, 7.0));
    }

    #[test]
    fn ratio_needs_a_positive_reference() {
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        assert_eq!(ratio(3.0, 0.0), None);
        assert_eq!(ratio(3.0, -1.0), None);
        assert_eq!(ratio(f64::NAN, 1.0), None);
    }
}
