//! Planning for pure cgroup v2: `linux.resources` → v2 files, converting v1-style values the
//! way runc does.

use oci_spec::runtime::LinuxResources;

use super::common::{self, Writes, R};
use super::host::CgroupHost;
use super::plan::{Op, Target, Write};
use super::CgroupError;

/// runc's conversion of cpu shares (2..262144) to cpu.weight (1..10000).
pub fn cpu_shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.saturating_sub(2) * 9999) / 262_142
}

/// runc's conversion of a blkio weight (10..1000) to io.weight (1..10000).
pub fn blkio_weight_to_io_weight(weight: u16) -> u64 {
    if weight == 0 {
        return 0;
    }
    1 + (u64::from(weight).saturating_sub(10) * 9999) / 990
}

/// runc's conversion of the v1 memory+swap limit to v2's swap-only `memory.swap.max`, with 0
/// meaning "not set" for both arguments. Returns the value for memory.swap.max (-1 = max, 0 =
/// leave alone unless swap equals limit).
pub fn memory_swap_to_v2(swap: i64, limit: i64) -> Result<i64, &'static str> {
    if limit == -1 && swap == 0 {
        return Ok(-1);
    }
    if swap == -1 || swap == 0 {
        return Ok(swap);
    }
    if limit == 0 || limit == -1 {
        return Err(
            "needs a memory limit on cgroup v2 (memory.swap.max is swap minus the memory limit)",
        );
    }
    if swap < limit {
        return Err("must be at least linux.resources.memory.limit (it limits memory plus swap)");
    }
    Ok(swap - limit)
}

fn uni(c: &str) -> Target {
    Target::Unified(c.to_string())
}

fn max_or(v: i64) -> String {
    if v == -1 {
        "max".to_string()
    } else {
        v.to_string()
    }
}

/// An error if the host's probe shows the kernel lacks `file` (checked again when writing).
fn need_file(
    host: &CgroupHost,
    field: &str,
    controller: &str,
    file: &str,
) -> Result<(), CgroupError> {
    if host
        .unified
        .as_ref()
        .is_some_and(|u| u.lacks(controller, file))
    {
        return Err(CgroupError::invalid(
            field,
            format!("not supported by this kernel ({file} does not exist in cgroups with the {controller} controller)"),
        ));
    }
    Ok(())
}

fn unsupported(field: String, why: &str) -> CgroupError {
    CgroupError::invalid(field, format!("not supported on cgroup v2 ({why})"))
}

pub(crate) fn writes(
    host: &CgroupHost,
    r: &LinuxResources,
    update: bool,
) -> Result<Vec<Write>, CgroupError> {
    let mut w = Writes::default();

    if let Some(m) = r.memory() {
        let f = |n: &str| format!("{R}.memory.{n}");
        let limit = m
            .limit()
            .map(|l| common::byte_limit(&f("limit"), l))
            .transpose()?;
        if let Some(s) = m.swap() {
            common::byte_limit(&f("swap"), s)?;
        }
        let swap = memory_swap_to_v2(m.swap().unwrap_or(0), limit.unwrap_or(0))
            .map_err(|why| CgroupError::invalid(f("swap"), why))?;
        let swap_value = match swap {
            -1 => Some("max".to_string()),
            0 if m.swap().is_some_and(|s| s > 0) => Some("0".to_string()), // swap == limit
            0 => None,
            v => Some(v.to_string()),
        };
        if update && m.check_before_update() == Some(true) {
            if let Some(l) = limit.filter(|l| *l > 0) {
                w.push(
                    f("checkBeforeUpdate"),
                    uni("memory"),
                    Op::CheckMemoryUsage {
                        limit: l,
                        usage_file: "memory.current".into(),
                    },
                );
            }
        }
        if let Some(v) = swap_value {
            let field = if m.swap().is_some() {
                f("swap")
            } else {
                f("limit")
            };
            if v != "max" && v != "0" {
                need_file(host, &field, "memory", "memory.swap.max")?;
            }
            let op = if v == "max" || v == "0" {
                Op::SetIfPresent {
                    file: "memory.swap.max".into(),
                    value: v,
                }
            } else {
                Op::Set {
                    file: "memory.swap.max".into(),
                    value: v,
                }
            };
            w.push(field, uni("memory"), op);
        }
        if let Some(l) = limit {
            w.set(f("limit"), uni("memory"), "memory.max", max_or(l));
        }
        if let Some(v) = m.reservation() {
            let v = common::reservation(&f("reservation"), v)?;
            w.set(f("reservation"), uni("memory"), "memory.low", max_or(v));
        }
        if m.kernel().is_some_and(|k| k != -1) {
            return Err(unsupported(
                f("kernel"),
                "kernel memory is accounted with all memory",
            ));
        }
        if m.kernel_tcp().is_some_and(|k| k != -1) {
            return Err(unsupported(
                f("kernelTCP"),
                "there is no separate tcp memory limit",
            ));
        }
        if m.swappiness().is_some() {
            return Err(unsupported(
                f("swappiness"),
                "there is no per-cgroup swappiness",
            ));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(unsupported(
                f("disableOOMKiller"),
                "the oom killer cannot be disabled per cgroup",
            ));
        }
        if m.use_hierarchy() == Some(false) {
            return Err(unsupported(
                f("useHierarchy"),
                "accounting is always hierarchical",
            ));
        }
    }

    if let Some(c) = r.cpu() {
        let f = |n: &str| format!("{R}.cpu.{n}");
        common::cpu_bandwidth(c)?;
        if let Some(s) = c.shares() {
            let s = common::cpu_shares(&f("shares"), s)?;
            w.set(
                f("shares"),
                uni("cpu"),
                "cpu.weight",
                cpu_shares_to_weight(s).to_string(),
            );
        }
        if c.quota().is_some() || c.period().is_some() {
            let field = if c.quota().is_some() {
                f("quota")
            } else {
                f("period")
            };
            w.push(
                field,
                uni("cpu"),
                Op::V2CpuMax {
                    quota: c.quota(),
                    period: c.period(),
                },
            );
        }
        if let Some(b) = c.burst() {
            need_file(host, &f("burst"), "cpu", "cpu.max.burst")?;
            w.set(f("burst"), uni("cpu"), "cpu.max.burst", b.to_string());
        }
        if c.realtime_runtime().is_some() {
            return Err(unsupported(
                f("realtimeRuntime"),
                "there is no realtime group scheduling",
            ));
        }
        if c.realtime_period().is_some() {
            return Err(unsupported(
                f("realtimePeriod"),
                "there is no realtime group scheduling",
            ));
        }
        if let Some(i) = c.idle() {
            need_file(host, &f("idle"), "cpu", "cpu.idle")?;
            w.set(f("idle"), uni("cpu"), "cpu.idle", i.to_string());
        }
    }
    common::cpuset_and_pids(&mut w, r, uni("cpuset"), uni("pids"))?;

    if let Some(b) = r.block_io() {
        let f = |n: &str| format!("{R}.blockIO.{n}");
        if let Some(wt) = b.weight() {
            let wt = common::blkio_weight(&f("weight"), wt)?;
            w.push(
                f("weight"),
                uni("io"),
                Op::SetFirst {
                    candidates: vec![
                        ("io.bfq.weight".into(), wt.to_string()),
                        (
                            "io.weight".into(),
                            blkio_weight_to_io_weight(wt).to_string(),
                        ),
                    ],
                },
            );
        }
        if b.leaf_weight().is_some() {
            return Err(unsupported(
                f("leafWeight"),
                "leaf weights existed only in the cfq scheduler",
            ));
        }
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            let base = f(&format!("weightDevice[{i}]"));
            let dev = common::device_numbers(&base, d.major(), d.minor())?;
            if d.leaf_weight().is_some() {
                return Err(unsupported(
                    format!("{base}.leafWeight"),
                    "leaf weights existed only in the cfq scheduler",
                ));
            }
            let Some(wt) = d.weight() else {
                return Err(CgroupError::invalid(base, "needs weight"));
            };
            let wt = common::blkio_weight(&format!("{base}.weight"), wt)?;
            w.push(
                format!("{base}.weight"),
                uni("io"),
                Op::SetFirst {
                    candidates: vec![
                        ("io.bfq.weight".into(), format!("{dev} {wt}")),
                        (
                            "io.weight".into(),
                            format!("{dev} {}", blkio_weight_to_io_weight(wt)),
                        ),
                    ],
                },
            );
        }
        for (name, _, key, list) in common::throttles(b) {
            for (i, t) in list.into_iter().flatten().enumerate() {
                let field = f(&format!("{name}[{i}]"));
                let dev = common::device_numbers(&field, t.major(), t.minor())?;
                w.set(
                    field,
                    uni("io"),
                    "io.max",
                    format!("{dev} {key}={}", t.rate()),
                );
            }
        }
    }

    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let base = format!("{R}.hugepageLimits[{i}]");
        let size = common::hugepage_size(host, &format!("{base}.pageSize"), h)?;
        let v = max_or(common::hugepage_limit(&format!("{base}.limit"), h.limit())?);
        let field = format!("{base}.limit");
        w.set(
            &field,
            uni("hugetlb"),
            &format!("hugetlb.{size}.max"),
            v.clone(),
        );
        w.push(
            &field,
            uni("hugetlb"),
            Op::SetIfPresent {
                file: format!("hugetlb.{size}.rsvd.max"),
                value: v,
            },
        );
    }

    if let Some(n) = r.network() {
        if n.class_id().is_some() {
            return Err(unsupported(
                format!("{R}.network.classID"),
                "net_cls exists only in cgroup v1",
            ));
        }
        if n.priorities().as_ref().is_some_and(|p| !p.is_empty()) {
            return Err(unsupported(
                format!("{R}.network.priorities"),
                "net_prio exists only in cgroup v1",
            ));
        }
    }

    if let Some(rdma) = r.rdma() {
        for (field, line) in common::rdma_lines(rdma)? {
            w.set(field, uni("rdma"), "rdma.max", line);
        }
    }

    if let Some(u) = r.unified() {
        let mut keys: Vec<_> = u.iter().collect();
        keys.sort();
        for (k, v) in keys {
            let field = format!("{R}.unified[{k:?}]");
            if k.is_empty() || k.contains('/') || k.starts_with('.') || !k.contains('.') {
                return Err(CgroupError::invalid(
                    field,
                    "is not a cgroup interface file name",
                ));
            }
            let controller = k.split('.').next().unwrap_or_default();
            w.set(field, uni(controller), k, v.clone());
        }
    }

    Ok(w.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::plan::tests::v2_host;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }
    fn set(field: &str, c: &str, file: &str, value: &str) -> Write {
        Write {
            field: field.into(),
            target: uni(c),
            op: Op::Set {
                file: file.into(),
                value: value.into(),
            },
        }
    }

    #[test]
    fn conversions_match_runc() {
        assert_eq!(cpu_shares_to_weight(2), 1);
        assert_eq!(cpu_shares_to_weight(1024), 39);
        assert_eq!(cpu_shares_to_weight(262_144), 10_000);
        assert_eq!(blkio_weight_to_io_weight(10), 1);
        assert_eq!(blkio_weight_to_io_weight(500), 4950);
        assert_eq!(blkio_weight_to_io_weight(1000), 10_000);
        assert_eq!(memory_swap_to_v2(0, -1), Ok(-1));
        assert_eq!(memory_swap_to_v2(-1, 100), Ok(-1));
        assert_eq!(memory_swap_to_v2(0, 100), Ok(0));
        assert_eq!(memory_swap_to_v2(300, 100), Ok(200));
        assert_eq!(memory_swap_to_v2(100, 100), Ok(0));
        assert!(memory_swap_to_v2(50, 100).is_err());
        assert!(memory_swap_to_v2(50, 0).is_err());
    }

    #[test]
    fn acceptance_values_map_to_v2_files() {
        let w = writes(
            &v2_host(),
            &res(r#"{"memory": {"limit": 33554432}, "pids": {"limit": 20}, "cpu": {"quota": 50000, "period": 100000}}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            w,
            vec![
                set(
                    "linux.resources.memory.limit",
                    "memory",
                    "memory.max",
                    "33554432"
                ),
                Write {
                    field: "linux.resources.cpu.quota".into(),
                    target: uni("cpu"),
                    op: Op::V2CpuMax {
                        quota: Some(50000),
                        period: Some(100000)
                    },
                },
                set("linux.resources.pids.limit", "pids", "pids.max", "20"),
            ]
        );
    }

    #[test]
    fn swap_semantics() {
        let host = v2_host();
        let w = writes(
            &host,
            &res(r#"{"memory": {"limit": 1000, "swap": 3000}}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            w[0],
            set(
                "linux.resources.memory.swap",
                "memory",
                "memory.swap.max",
                "2000"
            )
        );
        assert_eq!(
            w[1],
            set(
                "linux.resources.memory.limit",
                "memory",
                "memory.max",
                "1000"
            )
        );
        let w = writes(
            &host,
            &res(r#"{"memory": {"limit": 1000, "swap": 1000}}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            w[0].op,
            Op::SetIfPresent {
                file: "memory.swap.max".into(),
                value: "0".into()
            }
        );
        let w = writes(&host, &res(r#"{"memory": {"limit": -1}}"#), false).unwrap();
        assert_eq!(
            w[0].op,
            Op::SetIfPresent {
                file: "memory.swap.max".into(),
                value: "max".into()
            }
        );
        assert_eq!(
            w[1],
            set(
                "linux.resources.memory.limit",
                "memory",
                "memory.max",
                "max"
            )
        );
        let e = writes(&host, &res(r#"{"memory": {"swap": 1000}}"#), false).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("linux.resources.memory.swap: needs a memory limit"),
            "{e}"
        );
    }

    #[test]
    fn v1_only_values_are_errors() {
        let host = v2_host();
        for (json, field) in [
            (
                r#"{"memory": {"kernel": 1000}}"#,
                "linux.resources.memory.kernel",
            ),
            (
                r#"{"memory": {"kernelTCP": 1000}}"#,
                "linux.resources.memory.kernelTCP",
            ),
            (
                r#"{"memory": {"swappiness": 10}}"#,
                "linux.resources.memory.swappiness",
            ),
            (
                r#"{"memory": {"disableOOMKiller": true}}"#,
                "linux.resources.memory.disableOOMKiller",
            ),
            (
                r#"{"memory": {"useHierarchy": false}}"#,
                "linux.resources.memory.useHierarchy",
            ),
            (
                r#"{"cpu": {"realtimeRuntime": 100}}"#,
                "linux.resources.cpu.realtimeRuntime",
            ),
            (
                r#"{"blockIO": {"leafWeight": 100}}"#,
                "linux.resources.blockIO.leafWeight",
            ),
            (
                r#"{"network": {"classID": 1}}"#,
                "linux.resources.network.classID",
            ),
        ] {
            let e = writes(&host, &res(json), false).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{field}: not supported on cgroup v2")),
                "{e}"
            );
        }
        // values that hold anyway are accepted
        assert!(writes(
            &host,
            &res(r#"{"memory": {"kernel": -1, "disableOOMKiller": false, "useHierarchy": true}}"#),
            false
        )
        .unwrap()
        .is_empty());
    }

    #[test]
    fn cpu_and_io_conversions() {
        let w = writes(
            &v2_host(),
            &res(r#"{"cpu": {"shares": 1024, "burst": 1000, "idle": 1, "cpus": "0"},
                     "blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                                 "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 600}]}}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            w[0],
            set("linux.resources.cpu.shares", "cpu", "cpu.weight", "39")
        );
        assert_eq!(
            w[1],
            set("linux.resources.cpu.burst", "cpu", "cpu.max.burst", "1000")
        );
        assert_eq!(
            w[2],
            set("linux.resources.cpu.idle", "cpu", "cpu.idle", "1")
        );
        assert_eq!(
            w[3],
            set("linux.resources.cpu.cpus", "cpuset", "cpuset.cpus", "0")
        );
        assert_eq!(
            w[4].op,
            Op::SetFirst {
                candidates: vec![
                    ("io.bfq.weight".into(), "500".into()),
                    ("io.weight".into(), "4950".into())
                ]
            }
        );
        assert_eq!(
            w[5].op,
            Op::SetFirst {
                candidates: vec![
                    ("io.bfq.weight".into(), "8:0 100".into()),
                    ("io.weight".into(), "8:0 910".into())
                ]
            }
        );
        assert_eq!(
            w[6],
            set(
                "linux.resources.blockIO.throttleReadBpsDevice[0]",
                "io",
                "io.max",
                "8:0 rbps=600"
            )
        );
    }

    #[test]
    fn unified_keys_are_checked_and_written_last() {
        let w = writes(
            &v2_host(),
            &res(r#"{"pids": {"limit": 5}, "unified": {"memory.high": "1G", "cgroup.max.depth": "3"}}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            w[1],
            set(
                "linux.resources.unified[\"cgroup.max.depth\"]",
                "cgroup",
                "cgroup.max.depth",
                "3"
            )
        );
        assert_eq!(
            w[2],
            set(
                "linux.resources.unified[\"memory.high\"]",
                "memory",
                "memory.high",
                "1G"
            )
        );
        let e = writes(&v2_host(), &res(r#"{"unified": {"../x": "1"}}"#), false).unwrap_err();
        assert!(e
            .to_string()
            .contains("is not a cgroup interface file name"));
        let e = crate::cgroups::plan::plan_writes(
            &v2_host(),
            &res(r#"{"unified": {"foo.bar": "1"}}"#),
            false,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.unified[\"foo.bar\"]: the foo controller is not available in the cgroup2 hierarchy of this host"
        );
    }

    #[test]
    fn features_the_probe_shows_missing_are_refused_early() {
        let mut host = v2_host();
        let u = host.unified.as_mut().unwrap();
        u.probe_controllers = ["cpu", "memory"].iter().map(|s| s.to_string()).collect();
        u.probe_files = ["cpu.max", "memory.max"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (json, field) in [
            (r#"{"cpu": {"idle": 1}}"#, "linux.resources.cpu.idle"),
            (
                r#"{"cpu": {"quota": 5000, "burst": 1000}}"#,
                "linux.resources.cpu.burst",
            ),
            (
                r#"{"memory": {"limit": 1000, "swap": 3000}}"#,
                "linux.resources.memory.swap",
            ),
        ] {
            let e = writes(&host, &res(json), false).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("{field}: not supported by this kernel (")),
                "{e}"
            );
        }
        // "max" needs no swap accounting
        writes(&host, &res(r#"{"memory": {"limit": -1}}"#), false).unwrap();
    }

    #[test]
    fn hugetlb_and_zero_pids() {
        let w = writes(
            &v2_host(),
            &res(r#"{"pids": {"limit": 0}, "hugepageLimits": [{"pageSize": "2MB", "limit": -1}]}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            w[0],
            set("linux.resources.pids.limit", "pids", "pids.max", "0")
        );
        assert_eq!(
            w[1],
            set(
                "linux.resources.hugepageLimits[0].limit",
                "hugetlb",
                "hugetlb.2MB.max",
                "max"
            )
        );
        assert_eq!(
            w[2].op,
            Op::SetIfPresent {
                file: "hugetlb.2MB.rsvd.max".into(),
                value: "max".into()
            }
        );
    }
}
