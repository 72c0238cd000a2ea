//! `events`: runc's JSON events on stdout, one per line: stats once (`--stats`) or every
//! `--interval`, plus OOM notifications, until the container stops.

use std::io::Write;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use libcontainer::cgroup_ops::Event;
use libcontainer::Runtime;

use crate::cli::EventsArgs;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &EventsArgs) -> Result<i32> {
    let interval = go_duration(&a.interval)
        .with_context(|| format!("invalid value {:?} for flag --interval", a.interval))?;
    if interval.is_none() {
        bail!("duration interval must be greater than 0");
    }
    let rt = Runtime::new(&ctx.root);
    let print = |e: &Event| -> std::io::Result<()> {
        let mut out = std::io::stdout().lock();
        serde_json::to_writer(&mut out, e)?;
        out.write_all(b"\n")?;
        out.flush()
    };
    if a.stats {
        print(&rt.stats_event(&a.id)?)?;
        return Ok(0);
    }
    rt.events(&a.id, interval.unwrap_or_default(), print)?;
    Ok(0)
}

/// A Go `time.Duration` string ("5s", "1.5h", "1m30s", "100ms", "-2s", "0"): `None` when it
/// is zero or negative (pure).
fn go_duration(s: &str) -> Result<Option<Duration>> {
    let bad = || anyhow!("time: invalid duration {s:?}");
    let (negative, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Ok(None);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| anyhow!("time: missing unit in duration {s:?}"))?;
        let (num, tail) = rest.split_at(num_end);
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return Err(bad());
        }
        let unit_end = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_end);
        let ns_per = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(anyhow!("time: unknown unit {unit:?} in duration {s:?}")),
        };
        total += num.parse::<f64>().map_err(|_| bad())? * ns_per;
        rest = tail;
    }
    if total > i64::MAX as f64 {
        return Err(anyhow!("time: invalid duration {s:?}"));
    }
    let ns = total as u64;
    Ok((!negative && ns > 0).then(|| Duration::from_nanos(ns)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        let d = |s| go_duration(s).unwrap();
        assert_eq!(d("5s"), Some(Duration::from_secs(5)));
        assert_eq!(d("100ms"), Some(Duration::from_millis(100)));
        assert_eq!(d("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(d("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(d("250us"), Some(Duration::from_micros(250)));
        assert_eq!(d("2µs"), Some(Duration::from_micros(2)));
        assert_eq!(d("+1s"), Some(Duration::from_secs(1)));
        assert_eq!(d(".5s"), Some(Duration::from_millis(500)));
        assert_eq!(d("0"), None);
        assert_eq!(d("0s"), None);
        assert_eq!(d("-1s"), None);
        for bad in ["", "5", "s", "5x", "1..5s", "-", "1s5", "3000000h"] {
            assert!(go_duration(bad).is_err(), "{bad} accepted");
        }
    }
}
