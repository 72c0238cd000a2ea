//! Statistics in the shape of the `data` of runc's `events --stats` (runc 1.1 field names,
//! with Go's `omitempty` reproduced by skipping zero values).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::cgroup::SavedDir;
use super::fs::{
    parse_flat_keyed, parse_id_list, parse_u64, parse_u64_list, read_flat_keyed, read_optional,
    read_u64_optional,
};
use super::host::{CgroupHost, CgroupMode};
use super::plan::Hierarchy;
use super::CgroupError;

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// `USER_HZ`, the unit of `cpuacct.stat` (runc uses the same constant).
const CLOCK_TICKS: u64 = 100;
const NS_PER_SEC: u64 = 1_000_000_000;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuUsage {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub total: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_kernel: Vec<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub percpu_user: Vec<u64>,
    #[serde(default)]
    pub kernel: u64,
    #[serde(default)]
    pub user: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Throttling {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub periods: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_periods: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub throttled_time: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuStats {
    #[serde(default)]
    pub usage: CpuUsage,
    #[serde(default)]
    pub throttling: Throttling,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpusetStats {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpus: Vec<u16>,
    #[serde(default)]
    pub cpu_exclusive: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mems: Vec<u16>,
    #[serde(default)]
    pub mem_hardwall: u64,
    #[serde(default)]
    pub mem_exclusive: u64,
    #[serde(default)]
    pub memory_migrate: u64,
    #[serde(default)]
    pub memory_spread_page: u64,
    #[serde(default)]
    pub memory_spread_slab: u64,
    #[serde(default)]
    pub memory_pressure: u64,
    #[serde(default)]
    pub sched_load_balance: u64,
    #[serde(default)]
    pub sched_relax_domain_level: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryEntry {
    #[serde(default)]
    pub limit: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    #[serde(default)]
    pub failcnt: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStats {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache: u64,
    #[serde(default)]
    pub usage: MemoryEntry,
    #[serde(default)]
    pub swap: MemoryEntry,
    #[serde(default)]
    pub kernel: MemoryEntry,
    #[serde(default, rename = "kernelTCP")]
    pub kernel_tcp: MemoryEntry,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub raw: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PidsStats {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub current: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub limit: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlkioEntry {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub major: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub minor: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub op: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlkioStats {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_service_bytes_recursive: Vec<BlkioEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub io_serviced_recursive: Vec<BlkioEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HugetlbStats {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub usage: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max: u64,
    #[serde(default)]
    pub failcnt: u64,
}

/// Always `{}`: minke has no Intel RDT statistics, but the key is part of runc's shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntelRdt {}

/// The `data` object of a `{"type":"stats"}` event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    #[serde(default)]
    pub cpu: CpuStats,
    #[serde(default)]
    pub cpuset: CpusetStats,
    #[serde(default)]
    pub memory: MemoryStats,
    #[serde(default)]
    pub pids: PidsStats,
    #[serde(default)]
    pub blkio: BlkioStats,
    #[serde(default)]
    pub hugetlb: BTreeMap<String, HugetlbStats>,
    #[serde(default)]
    pub intel_rdt: IntelRdt,
    /// Always `null` (runc fills it from the network namespace, not from cgroups).
    #[serde(default)]
    pub network_interfaces: Option<Vec<serde_json::Value>>,
}

fn dir_with<'a>(dirs: &'a [SavedDir], controller: &str) -> Option<&'a Path> {
    dirs.iter()
        .find(|d| d.hierarchy.has(controller))
        .map(|d| d.path.as_path())
}

fn unified_dir(dirs: &[SavedDir]) -> Option<&Path> {
    dirs.iter()
        .find(|d| d.hierarchy == Hierarchy::Unified)
        .map(|d| d.path.as_path())
}

fn u64_or_zero(path: &Path) -> Result<u64, CgroupError> {
    Ok(read_u64_optional(path)?.unwrap_or(0))
}

fn keyed_optional(path: &Path) -> Result<BTreeMap<String, u64>, CgroupError> {
    match read_optional(path)? {
        Some(t) => parse_flat_keyed(path, &t),
        None => Ok(BTreeMap::new()),
    }
}

pub(crate) fn read(
    host: &CgroupHost,
    mode: CgroupMode,
    dirs: &[SavedDir],
) -> Result<Stats, CgroupError> {
    let mut s = Stats::default();
    if mode == CgroupMode::Unified {
        if let Some(d) = unified_dir(dirs) {
            v2_cpu(d, &mut s)?;
            v2_cpuset(d, &mut s)?;
            v2_memory(d, &mut s)?;
            pids(d, &mut s)?;
            v2_io(d, &mut s)?;
            v2_hugetlb(host, d, &mut s)?;
        }
        return Ok(s);
    }
    if let Some(d) = dir_with(dirs, "cpuacct") {
        v1_cpuacct(d, &mut s)?;
    }
    if let Some(d) = dir_with(dirs, "cpu") {
        let stat = keyed_optional(&d.join("cpu.stat"))?;
        s.cpu.throttling = Throttling {
            periods: stat.get("nr_periods").copied().unwrap_or(0),
            throttled_periods: stat.get("nr_throttled").copied().unwrap_or(0),
            throttled_time: stat.get("throttled_time").copied().unwrap_or(0),
        };
    }
    if let Some(d) = dir_with(dirs, "cpuset") {
        v1_cpuset(d, &mut s)?;
    }
    if let Some(d) = dir_with(dirs, "memory") {
        v1_memory(d, &mut s)?;
    }
    if let Some(d) = dir_with(dirs, "pids") {
        pids(d, &mut s)?;
    }
    if let Some(d) = dir_with(dirs, "blkio") {
        v1_blkio(d, &mut s)?;
    }
    if let Some(d) = dir_with(dirs, "hugetlb") {
        for size in &host.hugepage_sizes {
            let f = |n: &str| d.join(format!("hugetlb.{size}.{n}"));
            if let Some(usage) = read_u64_optional(&f("usage_in_bytes"))? {
                s.hugetlb.insert(
                    size.clone(),
                    HugetlbStats {
                        usage,
                        max: u64_or_zero(&f("max_usage_in_bytes"))?,
                        failcnt: u64_or_zero(&f("failcnt"))?,
                    },
                );
            }
        }
    } else if let Some(d) = unified_dir(dirs) {
        v2_hugetlb(host, d, &mut s)?;
    }
    Ok(s)
}

fn v1_cpuacct(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let u = &mut s.cpu.usage;
    u.total = u64_or_zero(&d.join("cpuacct.usage"))?;
    let percpu_path = d.join("cpuacct.usage_percpu");
    if let Some(t) = read_optional(&percpu_path)? {
        u.percpu = parse_u64_list(&percpu_path, &t)?;
    }
    let all_path = d.join("cpuacct.usage_all");
    if let Some(t) = read_optional(&all_path)? {
        // "cpu user system" header, then one row per cpu
        for line in t.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let v = parse_u64_list(&all_path, line)?;
            if v.len() != 3 {
                return Err(CgroupError::Parse {
                    path: all_path,
                    reason: format!("malformed line {line:?}"),
                });
            }
            u.percpu_user.push(v[1]);
            u.percpu_kernel.push(v[2]);
        }
    }
    let stat = keyed_optional(&d.join("cpuacct.stat"))?;
    u.user = stat.get("user").copied().unwrap_or(0) * NS_PER_SEC / CLOCK_TICKS;
    u.kernel = stat.get("system").copied().unwrap_or(0) * NS_PER_SEC / CLOCK_TICKS;
    Ok(())
}

fn v1_cpuset(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let c = &mut s.cpuset;
    let list = |f: &str| -> Result<Vec<u16>, CgroupError> {
        let path = d.join(f);
        match read_optional(&path)? {
            Some(t) => parse_id_list(&t).ok_or(CgroupError::Parse {
                path,
                reason: format!("{:?} is not a cpu list", t.trim()),
            }),
            None => Ok(Vec::new()),
        }
    };
    c.cpus = list("cpuset.cpus")?;
    c.mems = list("cpuset.mems")?;
    let n = |f: &str| u64_or_zero(&d.join(f));
    c.cpu_exclusive = n("cpuset.cpu_exclusive")?;
    c.mem_hardwall = n("cpuset.mem_hardwall")?;
    c.mem_exclusive = n("cpuset.mem_exclusive")?;
    c.memory_migrate = n("cpuset.memory_migrate")?;
    c.memory_spread_page = n("cpuset.memory_spread_page")?;
    c.memory_spread_slab = n("cpuset.memory_spread_slab")?;
    c.memory_pressure = n("cpuset.memory_pressure")?;
    c.sched_load_balance = n("cpuset.sched_load_balance")?;
    let level_path = d.join("cpuset.sched_relax_domain_level");
    if let Some(t) = read_optional(&level_path)? {
        c.sched_relax_domain_level = t.trim().parse().map_err(|_| CgroupError::Parse {
            path: level_path,
            reason: format!("{:?} is not a number", t.trim()),
        })?;
    }
    Ok(())
}

fn v1_memory_entry(d: &Path, prefix: &str) -> Result<MemoryEntry, CgroupError> {
    let f = |n: &str| d.join(format!("{prefix}.{n}"));
    let Some(usage) = read_u64_optional(&f("usage_in_bytes"))? else {
        return Ok(MemoryEntry::default());
    };
    Ok(MemoryEntry {
        usage,
        limit: u64_or_zero(&f("limit_in_bytes"))?,
        max: u64_or_zero(&f("max_usage_in_bytes"))?,
        failcnt: u64_or_zero(&f("failcnt"))?,
    })
}

fn v1_memory(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let m = &mut s.memory;
    m.raw = keyed_optional(&d.join("memory.stat"))?;
    m.cache = m.raw.get("cache").copied().unwrap_or(0);
    m.usage = v1_memory_entry(d, "memory")?;
    m.swap = v1_memory_entry(d, "memory.memsw")?;
    m.kernel = v1_memory_entry(d, "memory.kmem")?;
    m.kernel_tcp = v1_memory_entry(d, "memory.kmem.tcp")?;
    Ok(())
}

fn pids(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    s.pids.current = u64_or_zero(&d.join("pids.current"))?;
    s.pids.limit = u64_or_zero(&d.join("pids.max"))?;
    Ok(())
}

/// `8:0 Read 4096` lines; `Total` lines are skipped.
pub(crate) fn parse_blkio(path: &Path, text: &str) -> Result<Vec<BlkioEntry>, CgroupError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() == 2 && f[0] == "Total" {
            continue;
        }
        let bad = || CgroupError::Parse {
            path: path.to_path_buf(),
            reason: format!("malformed line {line:?}"),
        };
        if f.len() != 3 {
            return Err(bad());
        }
        let (major, minor) = f[0].split_once(':').ok_or_else(bad)?;
        out.push(BlkioEntry {
            major: major.parse().map_err(|_| bad())?,
            minor: minor.parse().map_err(|_| bad())?,
            op: f[1].to_string(),
            value: parse_u64(path, f[2])?,
        });
    }
    Ok(out)
}

fn v1_blkio(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    // cfq's files when it exists, else bfq's, else the throttling layer's (always there)
    for prefix in ["blkio", "blkio.bfq", "blkio.throttle"] {
        let bytes_path = d.join(format!("{prefix}.io_service_bytes_recursive"));
        let Some(bytes) = read_optional(&bytes_path)? else {
            continue;
        };
        let bytes = parse_blkio(&bytes_path, &bytes)?;
        if bytes.is_empty() && prefix != "blkio.throttle" {
            continue;
        }
        let ops_path = d.join(format!("{prefix}.io_serviced_recursive"));
        let ops = match read_optional(&ops_path)? {
            Some(t) => parse_blkio(&ops_path, &t)?,
            None => Vec::new(),
        };
        s.blkio.io_service_bytes_recursive = bytes;
        s.blkio.io_serviced_recursive = ops;
        break;
    }
    Ok(())
}

fn v2_cpu(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let stat = keyed_optional(&d.join("cpu.stat"))?;
    let g = |k: &str| stat.get(k).copied().unwrap_or(0);
    s.cpu.usage.total = g("usage_usec") * 1000;
    s.cpu.usage.user = g("user_usec") * 1000;
    s.cpu.usage.kernel = g("system_usec") * 1000;
    s.cpu.throttling = Throttling {
        periods: g("nr_periods"),
        throttled_periods: g("nr_throttled"),
        throttled_time: g("throttled_usec") * 1000,
    };
    Ok(())
}

fn v2_cpuset(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    for (file, out) in [
        ("cpuset.cpus.effective", &mut s.cpuset.cpus),
        ("cpuset.mems.effective", &mut s.cpuset.mems),
    ] {
        let path = d.join(file);
        if let Some(t) = read_optional(&path)? {
            *out = parse_id_list(&t).ok_or(CgroupError::Parse {
                path,
                reason: format!("{:?} is not a cpu list", t.trim()),
            })?;
        }
    }
    Ok(())
}

fn v2_memory(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let m = &mut s.memory;
    m.raw = keyed_optional(&d.join("memory.stat"))?;
    m.cache = m.raw.get("file").copied().unwrap_or(0);
    let Some(usage) = read_u64_optional(&d.join("memory.current"))? else {
        return Ok(());
    };
    let events = keyed_optional(&d.join("memory.events"))?;
    m.usage = MemoryEntry {
        usage,
        limit: u64_or_zero(&d.join("memory.max"))?,
        max: u64_or_zero(&d.join("memory.peak"))?,
        failcnt: events.get("max").copied().unwrap_or(0),
    };
    // Like runc: v1 reported memory+swap, so v2's swap figures are reported with memory added.
    if let Some(swap) = read_u64_optional(&d.join("memory.swap.current"))? {
        let swap_limit = u64_or_zero(&d.join("memory.swap.max"))?;
        m.swap = MemoryEntry {
            usage: swap + usage,
            limit: if swap_limit == u64::MAX || m.usage.limit == u64::MAX {
                u64::MAX
            } else {
                swap_limit + m.usage.limit
            },
            max: 0,
            failcnt: 0,
        };
    }
    Ok(())
}

/// `8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0` lines.
pub(crate) fn parse_io_stat(path: &Path, text: &str) -> Result<BlkioStats, CgroupError> {
    let mut out = BlkioStats::default();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut f = line.split_whitespace();
        let bad = || CgroupError::Parse {
            path: path.to_path_buf(),
            reason: format!("malformed line {line:?}"),
        };
        let (major, minor) = f.next().and_then(|d| d.split_once(':')).ok_or_else(bad)?;
        let (major, minor): (u64, u64) = (
            major.parse().map_err(|_| bad())?,
            minor.parse().map_err(|_| bad())?,
        );
        for kv in f {
            let (k, v) = kv.split_once('=').ok_or_else(bad)?;
            let (list, op) = match k {
                "rbytes" => (&mut out.io_service_bytes_recursive, "Read"),
                "wbytes" => (&mut out.io_service_bytes_recursive, "Write"),
                "rios" => (&mut out.io_serviced_recursive, "Read"),
                "wios" => (&mut out.io_serviced_recursive, "Write"),
                _ => continue,
            };
            list.push(BlkioEntry {
                major,
                minor,
                op: op.to_string(),
                value: parse_u64(path, v)?,
            });
        }
    }
    Ok(out)
}

fn v2_io(d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    let path = d.join("io.stat");
    if let Some(t) = read_optional(&path)? {
        s.blkio = parse_io_stat(&path, &t)?;
    }
    Ok(())
}

fn v2_hugetlb(host: &CgroupHost, d: &Path, s: &mut Stats) -> Result<(), CgroupError> {
    for size in &host.hugepage_sizes {
        if let Some(usage) = read_u64_optional(&d.join(format!("hugetlb.{size}.current")))? {
            let events =
                read_flat_keyed(&d.join(format!("hugetlb.{size}.events"))).unwrap_or_default();
            s.hugetlb.insert(
                size.clone(),
                HugetlbStats {
                    usage,
                    max: 0,
                    failcnt: events.get("max").copied().unwrap_or(0),
                },
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::PathBuf;

    use super::*;
    use crate::cgroups::plan::tests::{hybrid_host, v2_host};

    fn write(dir: &Path, files: &[(&str, &str)]) {
        fs::create_dir_all(dir).unwrap();
        for (f, v) in files {
            fs::write(dir.join(f), v).unwrap();
        }
    }
    fn saved(h: Hierarchy, path: PathBuf) -> SavedDir {
        SavedDir {
            hierarchy: h,
            path,
            created: vec![],
        }
    }
    fn v1(c: &str) -> Hierarchy {
        Hierarchy::V1 {
            controllers: vec![c.to_string()],
        }
    }

    #[test]
    fn v1_stats_like_runc() {
        let t = tempfile::tempdir().unwrap();
        let p = |c: &str| t.path().join(c);
        write(
            &p("cpuacct"),
            &[
                ("cpuacct.usage", "10784306\n"),
                ("cpuacct.usage_percpu", "3074490 7709816 \n"),
                ("cpuacct.usage_all", "cpu user system\n0 0 0\n1 0 7964707\n"),
                ("cpuacct.stat", "user 0\nsystem 1\n"),
            ],
        );
        write(
            &p("cpu"),
            &[(
                "cpu.stat",
                "nr_periods 4\nnr_throttled 2\nthrottled_time 900\n",
            )],
        );
        write(
            &p("memory"),
            &[
                ("memory.stat", "cache 1523712\nrss 57344\n"),
                ("memory.usage_in_bytes", "2551808\n"),
                ("memory.max_usage_in_bytes", "2768896\n"),
                ("memory.limit_in_bytes", "33554432\n"),
                ("memory.failcnt", "0\n"),
                ("memory.kmem.tcp.usage_in_bytes", "0\n"),
                ("memory.kmem.tcp.limit_in_bytes", "9223372036854771712\n"),
            ],
        );
        write(&p("pids"), &[("pids.current", "1\n"), ("pids.max", "20\n")]);
        write(
            &p("blkio"),
            &[
                (
                    "blkio.throttle.io_service_bytes_recursive",
                    "254:0 Read 4096\n254:0 Write 0\nTotal 4096\n",
                ),
                (
                    "blkio.throttle.io_serviced_recursive",
                    "254:0 Read 1\nTotal 1\n",
                ),
            ],
        );
        write(
            &p("unified"),
            &[
                ("hugetlb.2MB.current", "0\n"),
                ("hugetlb.2MB.events", "max 3\n"),
            ],
        );
        let dirs = vec![
            saved(v1("cpuacct"), p("cpuacct")),
            saved(v1("cpu"), p("cpu")),
            saved(v1("memory"), p("memory")),
            saved(v1("pids"), p("pids")),
            saved(v1("blkio"), p("blkio")),
            saved(Hierarchy::Unified, p("unified")),
        ];
        let s = read(&hybrid_host(), CgroupMode::Hybrid, &dirs).unwrap();
        assert_eq!(s.cpu.usage.percpu_kernel, vec![0, 7964707]);
        assert_eq!(s.cpu.usage.kernel, 10_000_000);
        assert_eq!(s.cpu.throttling.throttled_periods, 2);
        assert_eq!(s.memory.usage.limit, 33554432);
        assert_eq!(s.memory.cache, 1523712);
        assert_eq!(s.memory.kernel, MemoryEntry::default());
        assert_eq!(
            s.pids,
            PidsStats {
                current: 1,
                limit: 20
            }
        );
        assert_eq!(s.blkio.io_service_bytes_recursive.len(), 2);
        assert_eq!(s.hugetlb["2MB"].failcnt, 3);

        let json: serde_json::Value = serde_json::to_value(&s).unwrap();
        assert_eq!(json["cpu"]["usage"]["total"], 10784306);
        assert_eq!(json["cpu"]["throttling"]["throttledPeriods"], 2);
        assert_eq!(
            json["memory"]["kernelTCP"],
            serde_json::json!({"limit": 9223372036854771712u64, "failcnt": 0})
        );
        assert_eq!(
            json["memory"]["kernel"],
            serde_json::json!({"limit": 0, "failcnt": 0})
        );
        assert_eq!(
            json["blkio"]["ioServiceBytesRecursive"][1],
            serde_json::json!({"major": 254, "op": "Write"})
        );
        assert_eq!(json["intel_rdt"], serde_json::json!({}));
        assert!(json["network_interfaces"].is_null());
        assert_eq!(json["pids"], serde_json::json!({"current": 1, "limit": 20}));
    }

    #[test]
    fn empty_shape_matches_runc() {
        let json = serde_json::to_value(Stats::default()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "cpu": {"usage": {"kernel": 0, "user": 0}, "throttling": {}},
                "cpuset": {"cpu_exclusive": 0, "mem_hardwall": 0, "mem_exclusive": 0, "memory_migrate": 0,
                           "memory_spread_page": 0, "memory_spread_slab": 0, "memory_pressure": 0,
                           "sched_load_balance": 0, "sched_relax_domain_level": 0},
                "memory": {"usage": {"limit": 0, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                           "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0}},
                "pids": {}, "blkio": {}, "hugetlb": {}, "intel_rdt": {}, "network_interfaces": null
            })
        );
    }

    #[test]
    fn v2_stats() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), &[
            ("cpu.stat", "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 3\nnr_throttled 1\nthrottled_usec 20\n"),
            ("cpuset.cpus.effective", "0-1\n"),
            ("memory.stat", "anon 4096\nfile 8192\n"),
            ("memory.current", "12288\n"),
            ("memory.max", "33554432\n"),
            ("memory.events", "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n"),
            ("memory.swap.current", "0\n"),
            ("memory.swap.max", "max\n"),
            ("pids.current", "2\n"),
            ("pids.max", "max\n"),
            ("io.stat", "254:0 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n"),
        ]);
        let dirs = vec![saved(Hierarchy::Unified, t.path().to_path_buf())];
        let s = read(&v2_host(), CgroupMode::Unified, &dirs).unwrap();
        assert_eq!(s.cpu.usage.total, 1_500_000);
        assert_eq!(s.cpu.usage.kernel, 500_000);
        assert_eq!(s.cpu.throttling.throttled_time, 20_000);
        assert_eq!(s.cpuset.cpus, vec![0, 1]);
        assert_eq!(s.memory.cache, 8192);
        assert_eq!(s.memory.usage.failcnt, 7);
        assert_eq!(s.memory.swap.limit, u64::MAX);
        assert_eq!(s.memory.swap.usage, 12288);
        assert_eq!(s.pids.limit, u64::MAX);
        assert_eq!(s.blkio.io_service_bytes_recursive[0].value, 4096);
        assert_eq!(s.blkio.io_serviced_recursive[1].op, "Write");
    }

    #[test]
    fn blkio_parsing() {
        let p = Path::new("x");
        assert!(parse_blkio(p, "8:0 Read\n").is_err());
        assert!(parse_io_stat(p, "8:0 rbytes\n").is_err());
    }
}
