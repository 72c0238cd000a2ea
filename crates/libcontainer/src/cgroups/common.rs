//! Validation shared by the v1 and v2 planners. Every error names the JSON field.

use oci_spec::runtime::{LinuxCpu, LinuxHugepageLimit, LinuxResources, LinuxThrottleDevice};

use super::host::{hugepage_size_name, CgroupHost};
use super::plan::{Op, Target, Write};
use super::CgroupError;

pub(crate) const R: &str = "linux.resources";

/// Collects writes in order.
#[derive(Default)]
pub(crate) struct Writes(pub Vec<Write>);

impl Writes {
    pub fn push(&mut self, field: impl Into<String>, target: Target, op: Op) {
        self.0.push(Write {
            field: field.into(),
            target,
            op,
        });
    }
    pub fn set(
        &mut self,
        field: impl Into<String>,
        target: Target,
        file: &str,
        value: impl Into<String>,
    ) {
        self.push(
            field,
            target,
            Op::Set {
                file: file.to_string(),
                value: value.into(),
            },
        );
    }
}

/// runc's configuration has no "absent", so it treats 0 as "not set" for these fields and
/// writes nothing; minke does the same so that it accepts what runc accepts. (`pids.limit` is
/// not among them: 0 is a real limit in runtime-spec 1.3.)
pub(crate) fn zero_means_unset(r: &LinuxResources) -> LinuxResources {
    let mut r = r.clone();
    let i = |v: Option<i64>| v.filter(|v| *v != 0);
    let u = |v: Option<u64>| v.filter(|v| *v != 0);
    if let Some(mut m) = *r.memory() {
        m.set_limit(i(m.limit()));
        m.set_swap(i(m.swap()));
        m.set_reservation(i(m.reservation()));
        m.set_kernel(i(m.kernel()));
        m.set_kernel_tcp(i(m.kernel_tcp()));
        r.set_memory(Some(m));
    }
    if let Some(mut c) = r.cpu().clone() {
        c.set_shares(u(c.shares()));
        c.set_quota(i(c.quota()));
        c.set_period(u(c.period()));
        c.set_realtime_runtime(i(c.realtime_runtime()));
        c.set_realtime_period(u(c.realtime_period()));
        r.set_cpu(Some(c));
    }
    if let Some(mut b) = r.block_io().clone() {
        b.set_weight(b.weight().filter(|w| *w != 0));
        b.set_leaf_weight(b.leaf_weight().filter(|w| *w != 0));
        r.set_block_io(Some(b));
    }
    r
}

/// `cpu.cpus`/`cpu.mems` and `pids.limit`: the same files on v1 and v2.
pub(crate) fn cpuset_and_pids(
    w: &mut Writes,
    r: &LinuxResources,
    cpuset: Target,
    pids: Target,
) -> Result<(), CgroupError> {
    if let Some(c) = r.cpu() {
        let f = |n: &str| format!("{R}.cpu.{n}");
        if let Some(s) = id_list(&f("cpus"), c.cpus().as_ref())? {
            w.set(f("cpus"), cpuset.clone(), "cpuset.cpus", s);
        }
        if let Some(s) = id_list(&f("mems"), c.mems().as_ref())? {
            w.set(f("mems"), cpuset, "cpuset.mems", s);
        }
    }
    if let Some(p) = r.pids() {
        let field = format!("{R}.pids.limit");
        let v = pids_max(&field, p.limit())?;
        w.set(field, pids, "pids.max", v);
    }
    Ok(())
}

/// A byte limit: `-1` (unlimited) or positive.
pub(crate) fn byte_limit(field: &str, v: i64) -> Result<i64, CgroupError> {
    if v == -1 || v > 0 {
        Ok(v)
    } else {
        Err(CgroupError::invalid(
            field,
            format!("{v} is not a limit (use -1 for unlimited or a positive number of bytes)"),
        ))
    }
}

/// A soft limit / reservation: `-1` or non-negative.
pub(crate) fn reservation(field: &str, v: i64) -> Result<i64, CgroupError> {
    if v >= -1 {
        Ok(v)
    } else {
        Err(CgroupError::invalid(
            field,
            format!("{v} is not a reservation (use -1 or a number of bytes)"),
        ))
    }
}

/// `pids.max`: `-1` is unlimited, `0` and above are real limits (runtime-spec 1.3).
pub(crate) fn pids_max(field: &str, v: i64) -> Result<String, CgroupError> {
    match v {
        -1 => Ok("max".into()),
        v if v >= 0 => Ok(v.to_string()),
        v => Err(CgroupError::invalid(
            field,
            format!("{v} is not a limit (use -1 for unlimited or a count)"),
        )),
    }
}

pub(crate) fn cpu_shares(field: &str, v: u64) -> Result<u64, CgroupError> {
    if (2..=262_144).contains(&v) {
        Ok(v)
    } else {
        Err(CgroupError::invalid(
            field,
            format!("{v} is out of range (2 to 262144)"),
        ))
    }
}

/// The checks on quota, period and burst that hold on both versions.
pub(crate) fn cpu_bandwidth(cpu: &LinuxCpu) -> Result<(), CgroupError> {
    if let Some(q) = cpu.quota() {
        if q != -1 && q < 1000 {
            return Err(CgroupError::invalid(
                format!("{R}.cpu.quota"),
                format!("{q} is not a quota (use -1 for unlimited or at least 1000 microseconds)"),
            ));
        }
    }
    if let Some(p) = cpu.period() {
        if !(1000..=1_000_000).contains(&p) {
            return Err(CgroupError::invalid(
                format!("{R}.cpu.period"),
                format!("{p} is out of range (1000 to 1000000 microseconds)"),
            ));
        }
    }
    if let (Some(b), Some(q)) = (cpu.burst(), cpu.quota()) {
        if q > 0 && b > q as u64 {
            return Err(CgroupError::invalid(
                format!("{R}.cpu.burst"),
                format!("{b} is larger than linux.resources.cpu.quota ({q})"),
            ));
        }
    }
    if let Some(i) = cpu.idle() {
        if i != 0 && i != 1 {
            return Err(CgroupError::invalid(
                format!("{R}.cpu.idle"),
                format!("{i} is not 0 or 1"),
            ));
        }
    }
    Ok(())
}

/// A cpu or memory-node list, if set and non-empty (an empty string means unset, as in runc).
pub(crate) fn id_list<'a>(
    field: &str,
    v: Option<&'a String>,
) -> Result<Option<&'a str>, CgroupError> {
    match v.map(|s| s.trim()) {
        None | Some("") => Ok(None),
        Some(s) => {
            if super::fs::parse_id_list(s).is_none() {
                return Err(CgroupError::invalid(
                    field,
                    format!("{s:?} is not a list like 0-3,7"),
                ));
            }
            Ok(Some(s))
        }
    }
}

pub(crate) fn device_numbers(field: &str, major: i64, minor: i64) -> Result<String, CgroupError> {
    if major < 0 || minor < 0 || major > i64::from(u32::MAX) || minor > i64::from(u32::MAX) {
        return Err(CgroupError::invalid(
            field,
            format!("{major}:{minor} is not a device number"),
        ));
    }
    Ok(format!("{major}:{minor}"))
}

/// The four throttle lists with their field names and v1 file / v2 key.
pub(crate) fn throttles(
    b: &oci_spec::runtime::LinuxBlockIo,
) -> [(
    &'static str,
    &'static str,
    &'static str,
    Option<&Vec<LinuxThrottleDevice>>,
); 4] {
    [
        (
            "throttleReadBpsDevice",
            "blkio.throttle.read_bps_device",
            "rbps",
            b.throttle_read_bps_device().as_ref(),
        ),
        (
            "throttleWriteBpsDevice",
            "blkio.throttle.write_bps_device",
            "wbps",
            b.throttle_write_bps_device().as_ref(),
        ),
        (
            "throttleReadIOPSDevice",
            "blkio.throttle.read_iops_device",
            "riops",
            b.throttle_read_iops_device().as_ref(),
        ),
        (
            "throttleWriteIOPSDevice",
            "blkio.throttle.write_iops_device",
            "wiops",
            b.throttle_write_iops_device().as_ref(),
        ),
    ]
}

pub(crate) fn blkio_weight(field: &str, w: u16) -> Result<u16, CgroupError> {
    if (10..=1000).contains(&w) {
        Ok(w)
    } else {
        Err(CgroupError::invalid(
            field,
            format!("{w} is out of range (10 to 1000)"),
        ))
    }
}

/// Parses `<size><unit>B` (base 1024) and checks the host has that huge page size; returns the
/// kernel's spelling for file names.
pub(crate) fn hugepage_size(
    host: &CgroupHost,
    field: &str,
    limit: &LinuxHugepageLimit,
) -> Result<String, CgroupError> {
    let s = limit.page_size().trim();
    let bad = || CgroupError::invalid(field, format!("{s:?} is not a page size like 2MB or 1GB"));
    let body = s.strip_suffix('B').ok_or_else(bad)?;
    let (num, mult) = match body.chars().last() {
        Some('K') => (&body[..body.len() - 1], 1u64 << 10),
        Some('M') => (&body[..body.len() - 1], 1 << 20),
        Some('G') => (&body[..body.len() - 1], 1 << 30),
        Some('T') => (&body[..body.len() - 1], 1 << 40),
        _ => (body, 1),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    let name = hugepage_size_name(n.checked_mul(mult).ok_or_else(bad)?);
    if !host.hugepage_sizes.contains(&name) {
        return Err(CgroupError::invalid(
            field,
            format!(
                "{s} is not a huge page size of this host (it has: {})",
                if host.hugepage_sizes.is_empty() {
                    "none".to_string()
                } else {
                    host.hugepage_sizes.join(", ")
                }
            ),
        ));
    }
    Ok(name)
}

pub(crate) fn hugepage_limit(field: &str, v: i64) -> Result<i64, CgroupError> {
    if v >= -1 {
        Ok(v)
    } else {
        Err(CgroupError::invalid(
            field,
            format!("{v} is not a limit (use -1 for unlimited or a number of bytes)"),
        ))
    }
}

/// `rdma.max` lines, sorted by device (the same format on v1 and v2).
pub(crate) fn rdma_lines(
    rdma: &std::collections::HashMap<String, oci_spec::runtime::LinuxRdma>,
) -> Result<Vec<(String, String)>, CgroupError> {
    let mut devs: Vec<_> = rdma.iter().collect();
    devs.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = Vec::new();
    for (dev, l) in devs {
        let field = format!("{R}.rdma.{dev}");
        if dev.is_empty() || dev.chars().any(|c| c.is_whitespace()) {
            return Err(CgroupError::invalid(field, "is not a device name"));
        }
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        if l.hca_handles().is_none() && l.hca_objects().is_none() {
            return Err(CgroupError::invalid(
                field,
                "needs hcaHandles or hcaObjects",
            ));
        }
        out.push((field, line));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::plan::tests::hybrid_host;

    #[test]
    fn hugepage_sizes_are_normalized_and_checked() {
        let host = hybrid_host();
        let l = |s: &str| -> LinuxHugepageLimit {
            serde_json::from_str(&format!(r#"{{"pageSize": "{s}", "limit": 1}}"#)).unwrap()
        };
        assert_eq!(hugepage_size(&host, "f", &l("2MB")).unwrap(), "2MB");
        assert_eq!(hugepage_size(&host, "f", &l("2048KB")).unwrap(), "2MB");
        assert_eq!(hugepage_size(&host, "f", &l("1GB")).unwrap(), "1GB");
        assert_eq!(
            hugepage_size(&host, "f", &l("64KB"))
                .unwrap_err()
                .to_string(),
            "f: 64KB is not a huge page size of this host (it has: 2MB, 1GB)"
        );
        assert!(hugepage_size(&host, "f", &l("2M")).is_err());
        assert!(hugepage_size(&host, "f", &l("xMB")).is_err());
    }

    #[test]
    fn zero_is_unset_like_runc_except_pids() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory": {"limit": 0, "swap": 0, "reservation": 0, "swappiness": 0},
                "cpu": {"shares": 0, "quota": 0, "period": 0, "burst": 0, "idle": 0},
                "blockIO": {"weight": 0}, "pids": {"limit": 0}}"#,
        )
        .unwrap();
        let z = zero_means_unset(&r);
        let m = z.memory().unwrap();
        assert_eq!(
            (m.limit(), m.swap(), m.reservation(), m.swappiness()),
            (None, None, None, Some(0))
        );
        let c = z.cpu().as_ref().unwrap();
        assert_eq!(
            (c.shares(), c.quota(), c.period(), c.burst(), c.idle()),
            (None, None, None, Some(0), Some(0))
        );
        assert_eq!(z.block_io().as_ref().unwrap().weight(), None);
        assert_eq!(z.pids().unwrap().limit(), 0);
    }

    #[test]
    fn simple_ranges() {
        assert_eq!(pids_max("f", -1).unwrap(), "max");
        assert_eq!(pids_max("f", 0).unwrap(), "0");
        assert!(pids_max("f", -2).is_err());
        assert!(byte_limit("f", 0).is_err());
        assert!(cpu_shares("f", 1).is_err());
        assert!(blkio_weight("f", 5).is_err());
        assert_eq!(device_numbers("f", 8, 0).unwrap(), "8:0");
        assert!(device_numbers("f", -1, 0).is_err());
    }

    #[test]
    fn rdma_needs_a_limit() {
        let m: std::collections::HashMap<String, oci_spec::runtime::LinuxRdma> =
            serde_json::from_str(
                r#"{"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "rxe3": {"hcaObjects": 5}}"#,
            )
            .unwrap();
        assert_eq!(
            rdma_lines(&m).unwrap(),
            vec![
                (
                    "linux.resources.rdma.mlx5_1".to_string(),
                    "mlx5_1 hca_handle=3 hca_object=10000".to_string()
                ),
                (
                    "linux.resources.rdma.rxe3".to_string(),
                    "rxe3 hca_object=5".to_string()
                ),
            ]
        );
        let m: std::collections::HashMap<String, oci_spec::runtime::LinuxRdma> =
            serde_json::from_str(r#"{"x": {}}"#).unwrap();
        assert!(rdma_lines(&m).is_err());
    }
}
