//! Process attributes of `process` and `linux` that the kernel keeps across execve:
//! `process.scheduler`, `process.ioPriority`, `linux.personality`, `linux.memoryPolicy`, and
//! the cpu lists of `process.execCPUAffinity`. Turning the config into kernel values is pure
//! (and validated, naming the field); [`apply`] does the syscalls in the process that execs.

use oci_spec::runtime::{
    IOPriorityClass, LinuxMemoryPolicy, LinuxPersonality, LinuxPersonalityDomain,
    LinuxSchedulerFlag, LinuxSchedulerPolicy, MemoryPolicyFlagType, MemoryPolicyModeType, Process,
    Scheduler, Spec,
};
use serde::{Deserialize, Serialize};

use crate::spec::InvalidSpec;
use crate::sys::{self, SchedAttr};

/// The kernel values, ready to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcAttrs {
    pub scheduler: Option<SchedAttr>,
    /// (class, level) for ioprio_set.
    pub io_priority: Option<(u32, u32)>,
    pub personality: Option<u64>,
    /// (mode | flags, node mask words).
    pub mempolicy: Option<(i32, Vec<u64>)>,
}

/// Errors applying them.
#[derive(Debug, thiserror::Error)]
pub enum ProcAttrError {
    #[error("process.scheduler: sched_setattr")]
    Scheduler(#[source] nix::errno::Errno),
    #[error("process.ioPriority: ioprio_set")]
    IoPriority(#[source] nix::errno::Errno),
    #[error("linux.personality: personality")]
    Personality(#[source] nix::errno::Errno),
    #[error("linux.memoryPolicy: set_mempolicy")]
    MemoryPolicy(#[source] nix::errno::Errno),
    #[error("process.execCPUAffinity.{which}: sched_setaffinity")]
    Affinity {
        which: &'static str,
        #[source]
        source: nix::errno::Errno,
    },
}

const SCHED_FLAG_RESET_ON_FORK: u64 = 0x01;
const SCHED_FLAG_RECLAIM: u64 = 0x02;
const SCHED_FLAG_DL_OVERRUN: u64 = 0x04;
const SCHED_FLAG_KEEP_POLICY: u64 = 0x08;
const SCHED_FLAG_KEEP_PARAMS: u64 = 0x10;
const SCHED_FLAG_UTIL_CLAMP_MIN: u64 = 0x20;
const SCHED_FLAG_UTIL_CLAMP_MAX: u64 = 0x40;
/// SCHED_ISO is reserved in the kernel ABI but not implemented by mainline Linux.
const SCHED_ISO: u32 = 4;
const SCHED_DEADLINE: u32 = 6;

fn scheduler(s: &Scheduler) -> Result<SchedAttr, InvalidSpec> {
    let f = |m: &str| InvalidSpec::new("process.scheduler", m.to_string());
    let policy = match s.policy() {
        LinuxSchedulerPolicy::SchedOther => libc::SCHED_OTHER as u32,
        LinuxSchedulerPolicy::SchedFifo => libc::SCHED_FIFO as u32,
        LinuxSchedulerPolicy::SchedRr => libc::SCHED_RR as u32,
        LinuxSchedulerPolicy::SchedBatch => libc::SCHED_BATCH as u32,
        LinuxSchedulerPolicy::SchedIso => SCHED_ISO,
        LinuxSchedulerPolicy::SchedIdle => libc::SCHED_IDLE as u32,
        LinuxSchedulerPolicy::SchedDeadline => SCHED_DEADLINE,
    };
    let nice = s.nice().unwrap_or(0);
    if !(-20..=19).contains(&nice) {
        return Err(InvalidSpec::new(
            "process.scheduler.nice",
            format!("{nice} is outside -20..19"),
        ));
    }
    let priority = s.priority().unwrap_or(0);
    let realtime = policy == libc::SCHED_FIFO as u32 || policy == libc::SCHED_RR as u32;
    if realtime && !(1..=99).contains(&priority) {
        return Err(InvalidSpec::new(
            "process.scheduler.priority",
            format!("{priority} is outside 1..99, the range of SCHED_FIFO and SCHED_RR"),
        ));
    }
    if !realtime && priority != 0 {
        return Err(InvalidSpec::new(
            "process.scheduler.priority",
            "must be 0 unless the policy is SCHED_FIFO or SCHED_RR",
        ));
    }
    let (runtime, deadline, period) = (
        s.runtime().unwrap_or(0),
        s.deadline().unwrap_or(0),
        s.period().unwrap_or(0),
    );
    if policy == SCHED_DEADLINE {
        if runtime == 0 || deadline == 0 {
            return Err(f("SCHED_DEADLINE needs runtime and deadline"));
        }
        let period_eff = if period == 0 { deadline } else { period };
        if !(runtime <= deadline && deadline <= period_eff) {
            return Err(f("SCHED_DEADLINE needs runtime <= deadline <= period"));
        }
    } else if runtime != 0 || deadline != 0 || period != 0 {
        return Err(f(
            "runtime, deadline and period only apply to SCHED_DEADLINE",
        ));
    }
    let mut flags = 0u64;
    for fl in s.flags().iter().flatten() {
        flags |= match fl {
            LinuxSchedulerFlag::SchedResetOnFork => SCHED_FLAG_RESET_ON_FORK,
            LinuxSchedulerFlag::SchedFlagReclaim => SCHED_FLAG_RECLAIM,
            LinuxSchedulerFlag::SchedFlagDLOverrun => SCHED_FLAG_DL_OVERRUN,
            LinuxSchedulerFlag::SchedFlagKeepPolicy => SCHED_FLAG_KEEP_POLICY,
            LinuxSchedulerFlag::SchedFlagKeepParams => SCHED_FLAG_KEEP_PARAMS,
            LinuxSchedulerFlag::SchedFlagUtilClampMin => SCHED_FLAG_UTIL_CLAMP_MIN,
            LinuxSchedulerFlag::SchedFlagUtilClampMax => SCHED_FLAG_UTIL_CLAMP_MAX,
        };
    }
    Ok(SchedAttr {
        policy,
        flags,
        nice,
        priority: priority as u32,
        runtime,
        deadline,
        period,
    })
}

/// Parse a cpu or node list ("0-3,7") into bit-mask words.
pub fn parse_list(s: &str) -> Result<Vec<u64>, String> {
    let mut words: Vec<u64> = Vec::new();
    let mut set = |n: usize| {
        if n >= 4096 {
            return Err(format!("{n} is too large"));
        }
        if words.len() <= n / 64 {
            words.resize(n / 64 + 1, 0);
        }
        words[n / 64] |= 1 << (n % 64);
        Ok(())
    };
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let num = |x: &str| {
            x.trim()
                .parse::<usize>()
                .map_err(|_| format!("{part:?} is not a number or range"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("range {part:?} is reversed"));
                }
                for n in a..=b {
                    set(n)?;
                }
            }
            None => set(num(part)?)?,
        }
    }
    Ok(words)
}

fn mempolicy(m: &LinuxMemoryPolicy) -> Result<(i32, Vec<u64>), InvalidSpec> {
    const MPOL_DEFAULT: i32 = 0;
    const MPOL_PREFERRED: i32 = 1;
    const MPOL_BIND: i32 = 2;
    const MPOL_INTERLEAVE: i32 = 3;
    const MPOL_LOCAL: i32 = 4;
    const MPOL_PREFERRED_MANY: i32 = 5;
    const MPOL_WEIGHTED_INTERLEAVE: i32 = 6;
    const MPOL_F_STATIC_NODES: i32 = 1 << 15;
    const MPOL_F_RELATIVE_NODES: i32 = 1 << 14;
    const MPOL_F_NUMA_BALANCING: i32 = 1 << 13;
    let mode = match m.mode() {
        MemoryPolicyModeType::MpolDefault => MPOL_DEFAULT,
        MemoryPolicyModeType::MpolPreferred => MPOL_PREFERRED,
        MemoryPolicyModeType::MpolBind => MPOL_BIND,
        MemoryPolicyModeType::MpolInterleave => MPOL_INTERLEAVE,
        MemoryPolicyModeType::MpolLocal => MPOL_LOCAL,
        MemoryPolicyModeType::MpolPreferredMany => MPOL_PREFERRED_MANY,
        MemoryPolicyModeType::MpolWeightedInterleave => MPOL_WEIGHTED_INTERLEAVE,
    };
    let nodes = parse_list(m.nodes().as_deref().unwrap_or(""))
        .map_err(|e| InvalidSpec::new("linux.memoryPolicy.nodes", e))?;
    let has_nodes = nodes.iter().any(|w| *w != 0);
    match mode {
        MPOL_DEFAULT | MPOL_LOCAL if has_nodes => {
            return Err(InvalidSpec::new(
                "linux.memoryPolicy.nodes",
                "must be empty for MPOL_DEFAULT and MPOL_LOCAL",
            ))
        }
        MPOL_BIND | MPOL_INTERLEAVE | MPOL_PREFERRED_MANY | MPOL_WEIGHTED_INTERLEAVE
            if !has_nodes =>
        {
            return Err(InvalidSpec::new(
                "linux.memoryPolicy.nodes",
                "at least one node is needed for this mode",
            ))
        }
        _ => {}
    }
    let mut flags = 0;
    for f in m.flags().iter().flatten() {
        flags |= match f {
            MemoryPolicyFlagType::MpolFNumaBalancing => MPOL_F_NUMA_BALANCING,
            MemoryPolicyFlagType::MpolFRelativeNodes => MPOL_F_RELATIVE_NODES,
            MemoryPolicyFlagType::MpolFStaticNodes => MPOL_F_STATIC_NODES,
        };
    }
    if flags & MPOL_F_STATIC_NODES != 0 && flags & MPOL_F_RELATIVE_NODES != 0 {
        return Err(InvalidSpec::new(
            "linux.memoryPolicy.flags",
            "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other",
        ));
    }
    Ok((mode | flags, nodes))
}

fn personality(p: &LinuxPersonality) -> Result<u64, InvalidSpec> {
    if p.flags().as_ref().is_some_and(|f| !f.is_empty()) {
        return Err(InvalidSpec::new(
            "linux.personality.flags",
            "no flag values are supported (runtime-spec 1.3)",
        ));
    }
    Ok(match p.domain() {
        LinuxPersonalityDomain::PerLinux => 0x0000,
        LinuxPersonalityDomain::PerLinux32 => 0x0008,
    })
}

fn io_priority(p: &Process) -> Result<Option<(u32, u32)>, InvalidSpec> {
    let Some(io) = p.io_priority() else {
        return Ok(None);
    };
    let class = match io.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    let prio = io.priority();
    if !(0..=7).contains(&prio) {
        return Err(InvalidSpec::new(
            "process.ioPriority.priority",
            format!("{prio} is outside 0..7"),
        ));
    }
    Ok(Some((class, prio as u32)))
}

/// Validate and convert.
pub fn from_spec(spec: &Spec) -> Result<ProcAttrs, InvalidSpec> {
    let mut out = ProcAttrs::default();
    if let Some(p) = spec.process() {
        if let Some(s) = p.scheduler() {
            out.scheduler = Some(scheduler(s)?);
        }
        out.io_priority = io_priority(p)?;
        if let Some(a) = p.exec_cpu_affinity() {
            for (which, v) in [("initial", a.initial()), ("final", a.cpu_affinity_final())] {
                if let Some(list) = v {
                    parse_list(list).map_err(|e| {
                        InvalidSpec::new(format!("process.execCPUAffinity.{which}"), e)
                    })?;
                }
            }
        }
    }
    if let Some(l) = spec.linux() {
        if let Some(p) = l.personality() {
            out.personality = Some(personality(p)?);
        }
        if let Some(m) = l.memory_policy() {
            out.mempolicy = Some(mempolicy(m)?);
        }
    }
    Ok(out)
}

/// Apply them to the calling process (the container init, before it waits for start).
pub fn apply(a: &ProcAttrs) -> Result<(), ProcAttrError> {
    if let Some(p) = a.personality {
        sys::set_personality(p as libc::c_ulong).map_err(ProcAttrError::Personality)?;
    }
    if let Some((mode, nodes)) = &a.mempolicy {
        let words: Vec<libc::c_ulong> = nodes.iter().map(|w| *w as libc::c_ulong).collect();
        sys::set_mempolicy(*mode, &words).map_err(ProcAttrError::MemoryPolicy)?;
    }
    if let Some((class, level)) = a.io_priority {
        sys::ioprio_set(class, level).map_err(ProcAttrError::IoPriority)?;
    }
    if let Some(s) = &a.scheduler {
        sys::sched_setattr(s).map_err(ProcAttrError::Scheduler)?;
    }
    Ok(())
}

/// Set the calling thread's cpu affinity to a list ("0-3,7").
pub fn set_affinity(which: &'static str, list: &str) -> Result<(), ProcAttrError> {
    let words = parse_list(list).unwrap_or_default();
    let mut set = nix::sched::CpuSet::new();
    for (w, bits) in words.iter().enumerate() {
        for b in 0..64 {
            if bits & (1 << b) != 0 {
                set.set(w * 64 + b)
                    .map_err(|source| ProcAttrError::Affinity { which, source })?;
            }
        }
    }
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|source| ProcAttrError::Affinity { which, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> Spec {
        let mut base = serde_json::json!({
            "ociVersion": "1.3.0", "root": {"path": "r"},
            "process": {"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}}
        });
        for (k, val) in v.as_object().unwrap() {
            if k == "process" {
                for (pk, pv) in val.as_object().unwrap() {
                    base["process"][pk] = pv.clone();
                }
            } else {
                base[k] = val.clone();
            }
        }
        crate::spec::parse(base.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("0-3,7").unwrap(), vec![0b1000_1111]);
        assert_eq!(parse_list("64").unwrap(), vec![0, 1]);
        assert_eq!(parse_list("").unwrap(), Vec::<u64>::new());
        assert!(parse_list("3-1").is_err());
        assert!(parse_list("x").is_err());
    }

    #[test]
    fn scheduler_rules() {
        let a = from_spec(&spec(serde_json::json!({"process": {"scheduler": {"policy": "SCHED_FIFO", "priority": 10, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}}}))).unwrap();
        let s = a.scheduler.unwrap();
        assert_eq!(
            (s.policy, s.priority, s.flags),
            (libc::SCHED_FIFO as u32, 10, 1)
        );
        let e = from_spec(&spec(
            serde_json::json!({"process": {"scheduler": {"policy": "SCHED_OTHER", "priority": 5}}}),
        ))
        .unwrap_err();
        assert_eq!(e.path, "process.scheduler.priority");
        let e = from_spec(&spec(
            serde_json::json!({"process": {"scheduler": {"policy": "SCHED_RR"}}}),
        ))
        .unwrap_err();
        assert_eq!(e.path, "process.scheduler.priority");
        let e = from_spec(&spec(
            serde_json::json!({"process": {"scheduler": {"policy": "SCHED_BATCH", "nice": 40}}}),
        ))
        .unwrap_err();
        assert_eq!(e.path, "process.scheduler.nice");
        let a = from_spec(&spec(serde_json::json!({"process": {"scheduler": {"policy": "SCHED_DEADLINE", "runtime": 10000000, "deadline": 20000000, "period": 30000000, "flags": ["SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"]}}}))).unwrap();
        assert_eq!(
            a.scheduler.unwrap().flags,
            SCHED_FLAG_DL_OVERRUN | SCHED_FLAG_RECLAIM
        );
        assert!(from_spec(&spec(serde_json::json!({"process": {"scheduler": {"policy": "SCHED_DEADLINE", "runtime": 3, "deadline": 2}}}))).is_err());
    }

    #[test]
    fn io_priority_and_personality() {
        let a = from_spec(&spec(serde_json::json!({"process": {"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 7}}, "linux": {"personality": {"domain": "LINUX32"}}}))).unwrap();
        assert_eq!(a.io_priority, Some((3, 7)));
        assert_eq!(a.personality, Some(8));
        let e = from_spec(&spec(serde_json::json!({"process": {"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 8}}}))).unwrap_err();
        assert_eq!(e.path, "process.ioPriority.priority");
        let e = from_spec(&spec(
            serde_json::json!({"linux": {"personality": {"domain": "LINUX", "flags": ["X"]}}}),
        ))
        .unwrap_err();
        assert_eq!(e.path, "linux.personality.flags");
    }

    #[test]
    fn memory_policy_rules() {
        let a = from_spec(&spec(serde_json::json!({"linux": {"memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}}}))).unwrap();
        assert_eq!(a.mempolicy, Some((2 | (1 << 15), vec![1])));
        assert!(from_spec(&spec(
            serde_json::json!({"linux": {"memoryPolicy": {"mode": "MPOL_BIND"}}})
        ))
        .is_err());
        assert!(from_spec(&spec(
            serde_json::json!({"linux": {"memoryPolicy": {"mode": "MPOL_LOCAL", "nodes": "0"}}})
        ))
        .is_err());
        assert!(from_spec(&spec(serde_json::json!({"linux": {"memoryPolicy": {"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}}}))).is_err());
    }
}
