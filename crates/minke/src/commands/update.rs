//! `update`: runc's flags (or `-r FILE|-`, a `linux.resources` object) → one
//! [`ResourceUpdate`] → `Runtime::update`.

use std::io::Read;

use anyhow::{bail, Context, Result};
use libcontainer::cgroup_ops::ResourceUpdate;
use libcontainer::Runtime;
use serde_json::{json, Map, Value};

use crate::cli::UpdateArgs;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &UpdateArgs) -> Result<i32> {
    let mut update = match &a.resources {
        Some(path) => {
            let given = resource_flags(a)?;
            if !given.is_empty() {
                bail!(
                    "--resources cannot be combined with {} (runc would ignore them)",
                    given
                        .keys()
                        .map(|k| format!("--{k}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            ResourceUpdate::from_json(&read_resources(path)?)?
        }
        None => ResourceUpdate::from_value(flags_to_resources(a)?)?,
    };
    update.l3_cache_schema = a.l3_cache_schema.clone();
    update.mem_bw_schema = a.mem_bw_schema.clone();
    Runtime::new(&ctx.root).update(&a.id, &update)?;
    Ok(0)
}

fn read_resources(path: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if path == "-" {
        std::io::stdin()
            .read_to_end(&mut bytes)
            .context("reading the resources from the standard input")?;
    } else {
        bytes = std::fs::read(path).with_context(|| format!("reading resources file {path}"))?;
    }
    Ok(bytes)
}

/// The resource flags given, by flag name, as (JSON object, key, value) (pure).
fn resource_flags(a: &UpdateArgs) -> Result<Map<String, Value>> {
    let mut m = Map::new();
    let mut put = |flag: &str, v: Option<Value>| {
        if let Some(v) = v {
            m.insert(flag.to_string(), v);
        }
    };
    put("blkio-weight", a.blkio_weight.map(Value::from));
    put("cpu-period", a.cpu_period.map(Value::from));
    put("cpu-quota", a.cpu_quota.map(Value::from));
    put("cpu-burst", a.cpu_burst.map(Value::from));
    put("cpu-share", a.cpu_share.map(Value::from));
    put("cpu-rt-period", a.cpu_rt_period.map(Value::from));
    put("cpu-rt-runtime", a.cpu_rt_runtime.map(Value::from));
    put("cpu-idle", a.cpu_idle.map(Value::from));
    put("cpuset-cpus", a.cpuset_cpus.clone().map(Value::from));
    put("cpuset-mems", a.cpuset_mems.clone().map(Value::from));
    put("pids-limit", a.pids_limit.map(Value::from));
    for (flag, v) in [
        ("memory", &a.memory),
        ("memory-reservation", &a.memory_reservation),
        ("memory-swap", &a.memory_swap),
        ("kernel-memory", &a.kernel_memory),
        ("kernel-memory-tcp", &a.kernel_memory_tcp),
    ] {
        if let Some(s) = v {
            let bytes = if s == "-1" {
                -1
            } else {
                ram_in_bytes(s).with_context(|| format!("invalid value for --{flag}"))?
            };
            put(flag, Some(Value::from(bytes)));
        }
    }
    Ok(m)
}

/// The flags as a `linux.resources` object (pure).
fn flags_to_resources(a: &UpdateArgs) -> Result<Value> {
    let mut r = json!({});
    for (flag, v) in resource_flags(a)? {
        let (obj, key) = match flag.as_str() {
            "blkio-weight" => ("blockIO", "weight"),
            "cpu-period" => ("cpu", "period"),
            "cpu-quota" => ("cpu", "quota"),
            "cpu-burst" => ("cpu", "burst"),
            "cpu-share" => ("cpu", "shares"),
            "cpu-rt-period" => ("cpu", "realtimePeriod"),
            "cpu-rt-runtime" => ("cpu", "realtimeRuntime"),
            "cpu-idle" => ("cpu", "idle"),
            "cpuset-cpus" => ("cpu", "cpus"),
            "cpuset-mems" => ("cpu", "mems"),
            "pids-limit" => ("pids", "limit"),
            "memory" => ("memory", "limit"),
            "memory-reservation" => ("memory", "reservation"),
            "memory-swap" => ("memory", "swap"),
            "kernel-memory" => ("memory", "kernel"),
            "kernel-memory-tcp" => ("memory", "kernelTCP"),
            other => unreachable!("flag {other} has no field"),
        };
        r[obj][key] = v;
    }
    Ok(r)
}

/// A size like docker's `RAMInBytes`: a number (decimals allowed), an optional space, an
/// optional binary unit `k`/`m`/`g`/`t`/`p` (any case), then optional `i` and `b` (pure).
fn ram_in_bytes(s: &str) -> Result<i64> {
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, rest) = s.split_at(digits_end);
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    let mut chars = rest.chars().peekable();
    let mult: u64 = match chars.peek().map(|c| c.to_ascii_lowercase()) {
        Some(u @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            chars.next();
            1u64 << (10 * (1 + "kmgtp".find(u).unwrap_or(0) as u32))
        }
        _ => 1,
    };
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'i')) {
        chars.next();
    }
    if chars.peek().is_some_and(|c| c.eq_ignore_ascii_case(&'b')) {
        chars.next();
    }
    let valid_num = !num.is_empty()
        && num.starts_with(|c: char| c.is_ascii_digit())
        && !num.ends_with('.')
        && num.matches('.').count() <= 1;
    if !valid_num || chars.next().is_some() {
        bail!("invalid size: {s:?}");
    }
    let value: f64 = num
        .parse()
        .with_context(|| format!("invalid size: {s:?}"))?;
    let bytes = value * mult as f64;
    if bytes >= i64::MAX as f64 {
        bail!("invalid size: {s:?} is too large");
    }
    Ok(bytes as i64)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(argv: &[&str]) -> UpdateArgs {
        let mut full = vec!["minke", "update"];
        full.extend_from_slice(argv);
        match Cli::try_parse_from(full).unwrap().command {
            Some(Command::Update(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sizes_parse_like_docker_units() {
        for (s, want) in [
            ("32", 32),
            ("32k", 32 << 10),
            ("32K", 32 << 10),
            ("64m", 64 << 20),
            ("64M", 64 << 20),
            ("64MB", 64 << 20),
            ("64MiB", 64 << 20),
            ("64 mb", 64 << 20),
            ("1g", 1 << 30),
            ("1.5g", 3 << 29),
            ("2t", 2 << 40),
            ("1b", 1),
        ] {
            assert_eq!(ram_in_bytes(s).unwrap(), want, "{s}");
        }
        for s in [
            "", "m", "-5", "1.", "1..2", "1.2.3", "12x", "5mm", "1 g b", "9999999p",
        ] {
            assert!(ram_in_bytes(s).is_err(), "{s} accepted");
        }
    }

    #[test]
    fn flags_become_linux_resources() {
        let a = args(&[
            "--memory",
            "64M",
            "--memory-swap",
            "-1",
            "--memory-reservation",
            "16m",
            "--cpu-share",
            "512",
            "--cpu-quota",
            "-1",
            "--cpu-period",
            "200000",
            "--cpu-rt-runtime",
            "0",
            "--cpu-idle",
            "1",
            "--cpuset-cpus",
            "0-1",
            "--cpuset-mems",
            "0",
            "--pids-limit",
            "0",
            "--blkio-weight",
            "300",
            "--kernel-memory-tcp",
            "1m",
            "c1",
        ]);
        assert_eq!(a.id, "c1");
        assert_eq!(
            flags_to_resources(&a).unwrap(),
            json!({
                "memory": {"limit": 67108864, "swap": -1, "reservation": 16777216,
                           "kernelTCP": 1048576},
                "cpu": {"shares": 512, "quota": -1, "period": 200000, "realtimeRuntime": 0,
                        "idle": 1, "cpus": "0-1", "mems": "0"},
                "pids": {"limit": 0},
                "blockIO": {"weight": 300}
            })
        );
        // --cpu-shares is accepted as an alias of runc's --cpu-share.
        let a = args(&["--cpu-shares", "100", "--pids-limit", "-1", "c1"]);
        assert_eq!(
            flags_to_resources(&a).unwrap(),
            json!({"cpu": {"shares": 100}, "pids": {"limit": -1}})
        );
        let a = args(&["--memory", "lots", "c1"]);
        assert_eq!(
            format!("{:#}", flags_to_resources(&a).unwrap_err()),
            "invalid value for --memory: invalid size: \"lots\""
        );
        assert!(flags_to_resources(&args(&["c1"])).unwrap() == json!({}));
    }

    #[test]
    fn resources_file_and_flags_do_not_mix() {
        let a = args(&["-r", "-", "--memory", "1m", "--pids-limit", "3", "c1"]);
        assert_eq!(
            resource_flags(&a).unwrap().keys().collect::<Vec<_>>(),
            ["memory", "pids-limit"]
        );
        let a = args(&["-r", "-", "--l3-cache-schema", "L3:0=f", "c1"]);
        assert!(resource_flags(&a).unwrap().is_empty());
    }
}
