//! Planning for cgroup v1 (legacy and hybrid hosts): `linux.resources` → v1 files.
//! On a hybrid host hugetlb limits go to the cgroup2 mount when hugetlb is bound there.

use oci_spec::runtime::LinuxResources;

use super::common::{self, Writes, R};
use super::host::CgroupHost;
use super::plan::{Op, Target, Write};
use super::CgroupError;

fn ctl(c: &str) -> Target {
    Target::Controller(c.to_string())
}

fn has_file(host: &CgroupHost, controller: &str, file: &str) -> bool {
    host.v1_hierarchy(controller)
        .is_some_and(|h| h.files.contains(file))
}

/// Kernel memory limits: the file exists up to Linux 6.x but writes are ignored since 6.1.
fn kmem_supported(host: &CgroupHost) -> Result<(), String> {
    if !has_file(host, "memory", "memory.kmem.limit_in_bytes") {
        return Err("memory.kmem.limit_in_bytes does not exist on this host".into());
    }
    if host.kernel >= (6, 1) {
        return Err(format!(
            "Linux {}.{} ignores writes to memory.kmem.limit_in_bytes (since 6.1)",
            host.kernel.0, host.kernel.1
        ));
    }
    Ok(())
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
        let memsw = has_file(host, "memory", "memory.memsw.limit_in_bytes");
        let mut swap = m
            .swap()
            .map(|s| common::byte_limit(&f("swap"), s))
            .transpose()?;
        if let (Some(l), Some(s)) = (limit, swap) {
            if l > 0 && s > 0 && s < l {
                return Err(CgroupError::invalid(
                    f("swap"),
                    format!("{s} is below linux.resources.memory.limit ({l}); on cgroup v1 it limits memory plus swap"),
                ));
            }
        }
        match swap {
            Some(-1) if !memsw => swap = None, // no swap accounting: unlimited already holds
            Some(_) if !memsw => {
                return Err(CgroupError::invalid(
                    f("swap"),
                    "swap accounting is not available (memory.memsw.limit_in_bytes is missing)",
                ))
            }
            None if limit == Some(-1) && memsw => swap = Some(-1), // unlimited memory, unlimited swap
            _ => {}
        }
        if update && m.check_before_update() == Some(true) {
            if let Some(l) = limit.filter(|l| *l > 0) {
                w.push(
                    f("checkBeforeUpdate"),
                    ctl("memory"),
                    Op::CheckMemoryUsage {
                        limit: l,
                        usage_file: "memory.usage_in_bytes".into(),
                    },
                );
            }
        }
        if limit.is_some() || swap.is_some() {
            let field = if limit.is_some() {
                f("limit")
            } else {
                f("swap")
            };
            w.push(field, ctl("memory"), Op::V1MemoryLimits { limit, swap });
        }
        if let Some(v) = m.reservation() {
            let v = common::reservation(&f("reservation"), v)?;
            w.set(
                f("reservation"),
                ctl("memory"),
                "memory.soft_limit_in_bytes",
                v.to_string(),
            );
        }
        if let Some(k) = m.kernel() {
            match kmem_supported(host) {
                Ok(()) => {
                    let k = common::byte_limit(&f("kernel"), k)?;
                    w.set(
                        f("kernel"),
                        ctl("memory"),
                        "memory.kmem.limit_in_bytes",
                        k.to_string(),
                    );
                }
                Err(_) if k == -1 => {}
                Err(why) => {
                    return Err(CgroupError::invalid(
                        f("kernel"),
                        format!("kernel memory limits are not supported: {why}"),
                    ))
                }
            }
        }
        if let Some(k) = m.kernel_tcp() {
            if has_file(host, "memory", "memory.kmem.tcp.limit_in_bytes") {
                let k = common::byte_limit(&f("kernelTCP"), k)?;
                w.set(
                    f("kernelTCP"),
                    ctl("memory"),
                    "memory.kmem.tcp.limit_in_bytes",
                    k.to_string(),
                );
            } else if k != -1 {
                return Err(CgroupError::invalid(
                    f("kernelTCP"),
                    "kernel TCP memory limits are not supported (memory.kmem.tcp.limit_in_bytes is missing)",
                ));
            }
        }
        if let Some(s) = m.swappiness() {
            if s > 100 {
                return Err(CgroupError::invalid(
                    f("swappiness"),
                    format!("{s} is out of range (0 to 100)"),
                ));
            }
            w.set(
                f("swappiness"),
                ctl("memory"),
                "memory.swappiness",
                s.to_string(),
            );
        }
        if let Some(d) = m.disable_oom_killer() {
            w.set(
                f("disableOOMKiller"),
                ctl("memory"),
                "memory.oom_control",
                if d { "1" } else { "0" },
            );
        }
        if let Some(h) = m.use_hierarchy() {
            w.set(
                f("useHierarchy"),
                ctl("memory"),
                "memory.use_hierarchy",
                if h { "1" } else { "0" },
            );
        }
    }

    if let Some(c) = r.cpu() {
        let f = |n: &str| format!("{R}.cpu.{n}");
        common::cpu_bandwidth(c)?;
        if let Some(s) = c.shares() {
            let s = common::cpu_shares(&f("shares"), s)?;
            w.set(f("shares"), ctl("cpu"), "cpu.shares", s.to_string());
        }
        if c.quota().is_some() || c.period().is_some() {
            let field = if c.quota().is_some() {
                f("quota")
            } else {
                f("period")
            };
            w.push(
                field,
                ctl("cpu"),
                Op::V1CpuBandwidth {
                    quota: c.quota(),
                    period: c.period(),
                },
            );
        }
        if let Some(b) = c.burst() {
            if !has_file(host, "cpu", "cpu.cfs_burst_us") {
                return Err(CgroupError::invalid(
                    f("burst"),
                    "cpu burst is not supported (cpu.cfs_burst_us is missing)",
                ));
            }
            w.set(f("burst"), ctl("cpu"), "cpu.cfs_burst_us", b.to_string());
        }
        if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
            let field = if c.realtime_runtime().is_some() {
                f("realtimeRuntime")
            } else {
                f("realtimePeriod")
            };
            if !has_file(host, "cpu", "cpu.rt_runtime_us") {
                return Err(CgroupError::invalid(
                    field,
                    "realtime group scheduling is not supported (cpu.rt_runtime_us is missing)",
                ));
            }
            if let Some(rt) = c.realtime_runtime() {
                if rt < -1 {
                    return Err(CgroupError::invalid(
                        f("realtimeRuntime"),
                        format!("{rt} is not a runtime"),
                    ));
                }
            }
            if c.realtime_period() == Some(0) {
                return Err(CgroupError::invalid(
                    f("realtimePeriod"),
                    "0 is not a period",
                ));
            }
            w.push(
                field,
                ctl("cpu"),
                Op::V1CpuRt {
                    runtime: c.realtime_runtime(),
                    period: c.realtime_period(),
                },
            );
        }
        if let Some(i) = c.idle() {
            if !has_file(host, "cpu", "cpu.idle") {
                return Err(CgroupError::invalid(
                    f("idle"),
                    "cpu.idle is not supported by this kernel",
                ));
            }
            w.set(f("idle"), ctl("cpu"), "cpu.idle", i.to_string());
        }
    }
    common::cpuset_and_pids(&mut w, r, ctl("cpuset"), ctl("pids"))?;

    if let Some(b) = r.block_io() {
        let f = |n: &str| format!("{R}.blockIO.{n}");
        if let Some(wt) = b.weight() {
            let wt = common::blkio_weight(&f("weight"), wt)?;
            w.push(
                f("weight"),
                ctl("blkio"),
                Op::SetFirst {
                    candidates: vec![
                        ("blkio.weight".into(), wt.to_string()),
                        ("blkio.bfq.weight".into(), wt.to_string()),
                    ],
                },
            );
        }
        if let Some(lw) = b.leaf_weight() {
            let lw = common::blkio_weight(&f("leafWeight"), lw)?;
            w.set(
                f("leafWeight"),
                ctl("blkio"),
                "blkio.leaf_weight",
                lw.to_string(),
            );
        }
        for (i, d) in b.weight_device().iter().flatten().enumerate() {
            let base = f(&format!("weightDevice[{i}]"));
            let dev = common::device_numbers(&base, d.major(), d.minor())?;
            if d.weight().is_none() && d.leaf_weight().is_none() {
                return Err(CgroupError::invalid(base, "needs weight or leafWeight"));
            }
            if let Some(wt) = d.weight() {
                let wt = common::blkio_weight(&format!("{base}.weight"), wt)?;
                w.push(
                    format!("{base}.weight"),
                    ctl("blkio"),
                    Op::SetFirst {
                        candidates: vec![
                            ("blkio.weight_device".into(), format!("{dev} {wt}")),
                            ("blkio.bfq.weight_device".into(), format!("{dev} {wt}")),
                        ],
                    },
                );
            }
            if let Some(lw) = d.leaf_weight() {
                let lw = common::blkio_weight(&format!("{base}.leafWeight"), lw)?;
                w.set(
                    format!("{base}.leafWeight"),
                    ctl("blkio"),
                    "blkio.leaf_weight_device",
                    format!("{dev} {lw}"),
                );
            }
        }
        for (name, file, _, list) in common::throttles(b) {
            for (i, t) in list.into_iter().flatten().enumerate() {
                let field = f(&format!("{name}[{i}]"));
                let dev = common::device_numbers(&field, t.major(), t.minor())?;
                w.set(field, ctl("blkio"), file, format!("{dev} {}", t.rate()));
            }
        }
    }

    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        let base = format!("{R}.hugepageLimits[{i}]");
        let size = common::hugepage_size(host, &format!("{base}.pageSize"), h)?;
        let limit = common::hugepage_limit(&format!("{base}.limit"), h.limit())?;
        let field = format!("{base}.limit");
        if host.v1_hierarchy("hugetlb").is_some() {
            w.set(
                &field,
                ctl("hugetlb"),
                &format!("hugetlb.{size}.limit_in_bytes"),
                limit.to_string(),
            );
            w.push(
                &field,
                ctl("hugetlb"),
                Op::SetIfPresent {
                    file: format!("hugetlb.{size}.rsvd.limit_in_bytes"),
                    value: limit.to_string(),
                },
            );
        } else if host.unified_has("hugetlb") {
            let v = if limit == -1 {
                "max".to_string()
            } else {
                limit.to_string()
            };
            let target = Target::Unified("hugetlb".into());
            w.set(
                &field,
                target.clone(),
                &format!("hugetlb.{size}.max"),
                v.clone(),
            );
            w.push(
                &field,
                target,
                Op::SetIfPresent {
                    file: format!("hugetlb.{size}.rsvd.max"),
                    value: v,
                },
            );
        } else {
            return Err(CgroupError::invalid(
                field,
                "the hugetlb controller is not available on this host",
            ));
        }
    }

    if let Some(n) = r.network() {
        if let Some(id) = n.class_id() {
            w.set(
                format!("{R}.network.classID"),
                ctl("net_cls"),
                "net_cls.classid",
                id.to_string(),
            );
        }
        for (i, p) in n.priorities().iter().flatten().enumerate() {
            let field = format!("{R}.network.priorities[{i}]");
            if p.name().is_empty() || p.name().chars().any(|c| c.is_whitespace()) {
                return Err(CgroupError::invalid(
                    format!("{field}.name"),
                    "is not an interface name",
                ));
            }
            w.set(
                field,
                ctl("net_prio"),
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            );
        }
    }

    if let Some(rdma) = r.rdma() {
        for (field, line) in common::rdma_lines(rdma)? {
            w.set(field, ctl("rdma"), "rdma.max", line);
        }
    }

    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(CgroupError::invalid(
            format!("{R}.unified"),
            "not supported on cgroup v1",
        ));
    }

    Ok(w.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::plan::tests::hybrid_host;

    fn res(json: &str) -> LinuxResources {
        serde_json::from_str(json).unwrap()
    }
    fn set(field: &str, c: &str, file: &str, value: &str) -> Write {
        Write {
            field: field.into(),
            target: ctl(c),
            op: Op::Set {
                file: file.into(),
                value: value.into(),
            },
        }
    }

    #[test]
    fn acceptance_values_map_to_v1_files() {
        let w = writes(
            &hybrid_host(),
            &res(r#"{"memory": {"limit": 33554432}, "pids": {"limit": 20}, "cpu": {"quota": 50000, "period": 100000}}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            w,
            vec![
                Write {
                    field: "linux.resources.memory.limit".into(),
                    target: ctl("memory"),
                    op: Op::V1MemoryLimits {
                        limit: Some(33554432),
                        swap: None
                    },
                },
                Write {
                    field: "linux.resources.cpu.quota".into(),
                    target: ctl("cpu"),
                    op: Op::V1CpuBandwidth {
                        quota: Some(50000),
                        period: Some(100000)
                    },
                },
                set("linux.resources.pids.limit", "pids", "pids.max", "20"),
            ]
        );
    }

    #[test]
    fn memory_fields() {
        let host = hybrid_host();
        let w = writes(
            &host,
            &res(
                r#"{"memory": {"limit": -1, "reservation": 1000, "kernel": -1, "kernelTCP": 4096,
                     "swappiness": 10, "disableOOMKiller": true, "useHierarchy": true}}"#,
            ),
            false,
        )
        .unwrap();
        assert_eq!(
            w[0].op,
            Op::V1MemoryLimits {
                limit: Some(-1),
                swap: Some(-1)
            }
        );
        assert_eq!(
            w[1],
            set(
                "linux.resources.memory.reservation",
                "memory",
                "memory.soft_limit_in_bytes",
                "1000"
            )
        );
        assert_eq!(
            w[2],
            set(
                "linux.resources.memory.kernelTCP",
                "memory",
                "memory.kmem.tcp.limit_in_bytes",
                "4096"
            )
        );
        assert_eq!(
            w[3],
            set(
                "linux.resources.memory.swappiness",
                "memory",
                "memory.swappiness",
                "10"
            )
        );
        assert_eq!(
            w[4],
            set(
                "linux.resources.memory.disableOOMKiller",
                "memory",
                "memory.oom_control",
                "1"
            )
        );
        assert_eq!(
            w[5],
            set(
                "linux.resources.memory.useHierarchy",
                "memory",
                "memory.use_hierarchy",
                "1"
            )
        );
        assert_eq!(w.len(), 6);

        let e = writes(&host, &res(r#"{"memory": {"kernel": 1048576}}"#), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.kernel: kernel memory limits are not supported: Linux 6.18 ignores writes to memory.kmem.limit_in_bytes (since 6.1)"
        );
        let mut old = host.clone();
        old.kernel = (5, 10);
        let w = writes(&old, &res(r#"{"memory": {"kernel": 1048576}}"#), false).unwrap();
        assert_eq!(
            w[0],
            set(
                "linux.resources.memory.kernel",
                "memory",
                "memory.kmem.limit_in_bytes",
                "1048576"
            )
        );

        let e = writes(
            &host,
            &res(r#"{"memory": {"limit": 100, "swap": 50}}"#),
            false,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("linux.resources.memory.swap: 50 is below"),
            "{e}"
        );
        let e = writes(&host, &res(r#"{"memory": {"swappiness": 101}}"#), false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.memory.swappiness: 101 is out of range (0 to 100)"
        );
        let e = writes(&host, &res(r#"{"memory": {"limit": -2}}"#), false).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("linux.resources.memory.limit: -2 is not a limit"));
        // 0 means "not set", as in runc
        let w =
            crate::cgroups::plan::plan_writes(&host, &res(r#"{"memory": {"limit": 0}}"#), false)
                .unwrap();
        assert!(w.is_empty());

        let mut noswap = host.clone();
        noswap
            .v1
            .iter_mut()
            .find(|h| h.has("memory"))
            .unwrap()
            .files
            .remove("memory.memsw.limit_in_bytes");
        let e = writes(
            &noswap,
            &res(r#"{"memory": {"limit": 100, "swap": 200}}"#),
            false,
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("linux.resources.memory.swap: swap accounting is not available"));
        let w = writes(
            &noswap,
            &res(r#"{"memory": {"limit": 100, "swap": -1}}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            w[0].op,
            Op::V1MemoryLimits {
                limit: Some(100),
                swap: None
            }
        );
    }

    #[test]
    fn check_before_update_only_on_update() {
        let r = res(r#"{"memory": {"limit": 1000000, "checkBeforeUpdate": true}}"#);
        assert_eq!(writes(&hybrid_host(), &r, false).unwrap().len(), 1);
        let w = writes(&hybrid_host(), &r, true).unwrap();
        assert_eq!(
            w[0].op,
            Op::CheckMemoryUsage {
                limit: 1000000,
                usage_file: "memory.usage_in_bytes".into()
            }
        );
    }

    #[test]
    fn cpu_fields() {
        let w = writes(
            &hybrid_host(),
            &res(
                r#"{"cpu": {"shares": 512, "quota": 20000, "burst": 10000, "realtimeRuntime": 950,
                   "realtimePeriod": 1000, "idle": 1, "cpus": "0-1", "mems": "0"}}"#,
            ),
            false,
        )
        .unwrap();
        let files: Vec<String> = w
            .iter()
            .map(|w| match &w.op {
                Op::Set { file, value } => format!("{file}={value}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            files,
            vec![
                "cpu.shares=512",
                "V1CpuBandwidth { quota: Some(20000), period: None }",
                "cpu.cfs_burst_us=10000",
                "V1CpuRt { runtime: Some(950), period: Some(1000) }",
                "cpu.idle=1",
                "cpuset.cpus=0-1",
                "cpuset.mems=0",
            ]
        );
        let e = writes(
            &hybrid_host(),
            &res(r#"{"cpu": {"quota": 1000, "burst": 2000}}"#),
            false,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.cpu.burst: 2000 is larger than linux.resources.cpu.quota (1000)"
        );
        let e = writes(&hybrid_host(), &res(r#"{"cpu": {"period": 10}}"#), false).unwrap_err();
        assert!(e.to_string().starts_with("linux.resources.cpu.period: "));
        let e = writes(&hybrid_host(), &res(r#"{"cpu": {"cpus": "1-x"}}"#), false).unwrap_err();
        assert!(e.to_string().starts_with("linux.resources.cpu.cpus: "));
        assert!(
            writes(&hybrid_host(), &res(r#"{"cpu": {"cpus": ""}}"#), false)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn blkio_fields() {
        let w = writes(
            &hybrid_host(),
            &res(r#"{"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 300, "leafWeight": 200}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 300}]}}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            w[0].op,
            Op::SetFirst {
                candidates: vec![
                    ("blkio.weight".into(), "500".into()),
                    ("blkio.bfq.weight".into(), "500".into())
                ]
            }
        );
        assert_eq!(w[1].field, "linux.resources.blockIO.weightDevice[0].weight");
        assert_eq!(
            w[2],
            set(
                "linux.resources.blockIO.weightDevice[0].leafWeight",
                "blkio",
                "blkio.leaf_weight_device",
                "8:0 200"
            )
        );
        assert_eq!(
            w[3],
            set(
                "linux.resources.blockIO.throttleReadBpsDevice[0]",
                "blkio",
                "blkio.throttle.read_bps_device",
                "8:0 1048576"
            )
        );
        assert_eq!(
            w[4],
            set(
                "linux.resources.blockIO.throttleWriteIOPSDevice[0]",
                "blkio",
                "blkio.throttle.write_iops_device",
                "8:16 300"
            )
        );
        let e = writes(
            &hybrid_host(),
            &res(r#"{"blockIO": {"weightDevice": [{"major": 8, "minor": 0}]}}"#),
            false,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.blockIO.weightDevice[0]: needs weight or leafWeight"
        );
    }

    #[test]
    fn hugetlb_goes_to_cgroup2_on_this_hybrid_host() {
        let w = writes(
            &hybrid_host(),
            &res(r#"{"hugepageLimits": [{"pageSize": "2MB", "limit": 4194304}]}"#),
            false,
        )
        .unwrap();
        assert_eq!(w[0].target, Target::Unified("hugetlb".into()));
        assert_eq!(
            w[0].op,
            Op::Set {
                file: "hugetlb.2MB.max".into(),
                value: "4194304".into()
            }
        );
        assert_eq!(
            w[1].op,
            Op::SetIfPresent {
                file: "hugetlb.2MB.rsvd.max".into(),
                value: "4194304".into()
            }
        );
    }

    #[test]
    fn unified_is_refused_on_v1() {
        let e = writes(
            &hybrid_host(),
            &res(r#"{"unified": {"memory.high": "1G"}}"#),
            false,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "linux.resources.unified: not supported on cgroup v1"
        );
        assert!(writes(&hybrid_host(), &res(r#"{"unified": {}}"#), false)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn network_and_rdma() {
        let w = writes(
            &hybrid_host(),
            &res(r#"{"network": {"classID": 1048577, "priorities": [{"name": "eth0", "priority": 500}]},
                     "rdma": {"mlx5_1": {"hcaHandles": 3}}}"#),
            false,
        )
        .unwrap();
        assert_eq!(
            w[0],
            set(
                "linux.resources.network.classID",
                "net_cls",
                "net_cls.classid",
                "1048577"
            )
        );
        assert_eq!(
            w[1],
            set(
                "linux.resources.network.priorities[0]",
                "net_prio",
                "net_prio.ifpriomap",
                "eth0 500"
            )
        );
        assert_eq!(
            w[2],
            set(
                "linux.resources.rdma.mlx5_1",
                "rdma",
                "rdma.max",
                "mlx5_1 hca_handle=3"
            )
        );
    }
}
