//! The pure half of compiling a profile: `linux.seccomp` → [`Plan`], a flat list of rules in the
//! shape libseccomp takes them, with runc's semantics applied:
//!
//! - one rule per syscall name;
//! - a rule whose action equals the default action is dropped (libseccomp refuses it, runc skips it);
//! - when one argument index carries more than one condition, libseccomp cannot AND them, so every
//!   condition of that entry becomes a rule of its own (OR), exactly as runc does; otherwise all
//!   conditions of the entry form one rule (AND);
//! - `errnoRet`/`defaultErrnoRet` default to `EPERM`, also for `SCMP_ACT_TRACE`.
//!
//! Syscall names are not resolved here (that needs libseccomp's tables): unknown names are dropped
//! later, with a debug log, when the rules are handed to libseccomp.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use super::validate::{validate, MAX_ARGS};
use super::SeccompError;
use crate::sys::seccomp as sys;

/// What a rule (or the default) does, with its 16-bit data resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    KillThread,
    KillProcess,
    Trap,
    Errno(u16),
    Trace(u16),
    Allow,
    Log,
    Notify,
}

impl Action {
    /// Map a spec action; `ret` is `errnoRet` (already validated), `EPERM` when absent.
    pub fn from_spec(action: LinuxSeccompAction, ret: Option<u32>) -> Action {
        let data = || u16::try_from(ret.unwrap_or(libc::EPERM as u32)).unwrap_or(u16::MAX);
        match action {
            LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
                Action::KillThread
            }
            LinuxSeccompAction::ScmpActKillProcess => Action::KillProcess,
            LinuxSeccompAction::ScmpActTrap => Action::Trap,
            LinuxSeccompAction::ScmpActErrno => Action::Errno(data()),
            LinuxSeccompAction::ScmpActTrace => Action::Trace(data()),
            LinuxSeccompAction::ScmpActAllow => Action::Allow,
            LinuxSeccompAction::ScmpActLog => Action::Log,
            LinuxSeccompAction::ScmpActNotify => Action::Notify,
        }
    }

    /// The `SECCOMP_RET_*` value the kernel sees.
    pub fn ret(self) -> u32 {
        match self {
            Action::KillProcess => 0x8000_0000,
            Action::KillThread => 0x0000_0000,
            Action::Trap => 0x0003_0000,
            Action::Errno(e) => 0x0005_0000 | u32::from(e),
            Action::Notify => 0x7fc0_0000,
            Action::Trace(d) => 0x7ff0_0000 | u32::from(d),
            Action::Log => 0x7ffc_0000,
            Action::Allow => 0x7fff_0000,
        }
    }

    /// Whether a syscall the profile does not know would still run (or reach a tracer) under
    /// this default: then runc adds no `-ENOSYS` prologue, and neither does minke.
    pub fn is_permissive(self) -> bool {
        matches!(self, Action::Allow | Action::Log | Action::Trace(_))
    }

    pub fn to_libseccomp(self) -> libseccomp::ScmpAction {
        use libseccomp::ScmpAction as S;
        match self {
            Action::KillThread => S::KillThread,
            Action::KillProcess => S::KillProcess,
            Action::Trap => S::Trap,
            Action::Errno(e) => S::Errno(i32::from(e)),
            Action::Trace(d) => S::Trace(d),
            Action::Allow => S::Allow,
            Action::Log => S::Log,
            Action::Notify => S::Notify,
        }
    }
}

/// One argument comparison. For `SCMP_CMP_MASKED_EQ` the argument matches when
/// `arg & value == value_two`; the other operators compare `arg` with `value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Condition {
    pub index: u32,
    pub op: LinuxSeccompOperator,
    pub value: u64,
    pub value_two: u64,
}

impl Condition {
    pub fn to_libseccomp(self) -> libseccomp::ScmpArgCompare {
        use libseccomp::{ScmpArgCompare, ScmpCompareOp as Op};
        let (op, datum) = match self.op {
            LinuxSeccompOperator::ScmpCmpNe => (Op::NotEqual, self.value),
            LinuxSeccompOperator::ScmpCmpLt => (Op::Less, self.value),
            LinuxSeccompOperator::ScmpCmpLe => (Op::LessOrEqual, self.value),
            LinuxSeccompOperator::ScmpCmpEq => (Op::Equal, self.value),
            LinuxSeccompOperator::ScmpCmpGe => (Op::GreaterEqual, self.value),
            LinuxSeccompOperator::ScmpCmpGt => (Op::Greater, self.value),
            LinuxSeccompOperator::ScmpCmpMaskedEq => (Op::MaskedEqual(self.value), self.value_two),
        };
        ScmpArgCompare::new(self.index, op, datum)
    }
}

/// Where a rule came from: `linux.seccomp.syscalls[entry].names[name]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin {
    pub entry: usize,
    pub name: usize,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "linux.seccomp.syscalls[{}].names[{}]",
            self.entry, self.name
        )
    }
}

/// A rule for libseccomp: all `conditions` must hold (none: always).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub origin: Origin,
    pub syscall: String,
    pub action: Action,
    pub conditions: Vec<Condition>,
}

/// Input of the `-ENOSYS` prologue (see `enosys.rs`): present when the default action is not
/// permissive and not already `ERRNO(ENOSYS)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnosysPlan {
    /// Architectures listed in the profile (like runc, only those get the prologue).
    pub architectures: Vec<Arch>,
    /// Every syscall name of the profile, including dropped and unknown ones.
    pub names: Vec<String>,
}

/// A flag requested by the profile: where it was, and its kernel bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestedFlag {
    pub index: usize,
    pub flag: LinuxSeccompFilterFlag,
    pub bits: u32,
}

/// Everything needed to build the filter, computed without touching the system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub default_action: Action,
    /// Extra architectures for libseccomp, deduplicated, in profile order.
    pub architectures: Vec<Arch>,
    pub flags: Vec<RequestedFlag>,
    /// The `seccomp(2)` flags to load with (requested ones plus `NEW_LISTENER`/`TSYNC_ESRCH`).
    pub load_flags: u32,
    pub rules: Vec<Rule>,
    /// Rules dropped because their action equals the default action.
    pub redundant: Vec<Origin>,
    pub enosys: Option<EnosysPlan>,
    pub needs_listener: bool,
}

/// The kernel bits of a spec flag.
pub fn flag_bits(flag: LinuxSeccompFilterFlag) -> u32 {
    match flag {
        LinuxSeccompFilterFlag::SeccompFilterFlagTsync => sys::FLAG_TSYNC,
        LinuxSeccompFilterFlag::SeccompFilterFlagLog => sys::FLAG_LOG,
        LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => sys::FLAG_SPEC_ALLOW,
        LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => sys::FLAG_WAIT_KILLABLE_RECV,
    }
}

/// Validate and lower a profile.
pub fn lower(seccomp: &LinuxSeccomp) -> Result<Plan, SeccompError> {
    validate(seccomp)?;
    let default_action = Action::from_spec(seccomp.default_action(), seccomp.default_errno_ret());

    let mut architectures: Vec<Arch> = Vec::new();
    for arch in seccomp.architectures().iter().flatten() {
        if !architectures.contains(arch) {
            architectures.push(*arch);
        }
    }

    let mut rules = Vec::new();
    let mut redundant = Vec::new();
    let mut names = Vec::new();
    for (entry, call) in seccomp.syscalls().iter().flatten().enumerate() {
        let action = Action::from_spec(call.action(), call.errno_ret());
        let conditions: Vec<Condition> = call
            .args()
            .iter()
            .flatten()
            .map(|a| Condition {
                index: a.index() as u32,
                op: a.op(),
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
            })
            .collect();
        let mut per_index = [0usize; MAX_ARGS];
        for c in &conditions {
            per_index[c.index as usize] += 1;
        }
        let split = per_index.iter().any(|&n| n > 1);
        for (name_index, name) in call.names().iter().enumerate() {
            names.push(name.clone());
            let origin = Origin {
                entry,
                name: name_index,
            };
            if action == default_action {
                redundant.push(origin);
                continue;
            }
            let rule = |conditions: Vec<Condition>| Rule {
                origin,
                syscall: name.clone(),
                action,
                conditions,
            };
            if split {
                rules.extend(conditions.iter().map(|c| rule(vec![*c])));
            } else {
                rules.push(rule(conditions.clone()));
            }
        }
    }

    let needs_listener = rules.iter().any(|r| r.action == Action::Notify);
    let flags: Vec<RequestedFlag> = seccomp
        .flags()
        .iter()
        .flatten()
        .enumerate()
        .map(|(index, &flag)| RequestedFlag {
            index,
            flag,
            bits: flag_bits(flag),
        })
        .collect();
    let mut load_flags = flags.iter().fold(0, |acc, f| acc | f.bits);
    if needs_listener {
        load_flags |= sys::FLAG_NEW_LISTENER;
        if load_flags & sys::FLAG_TSYNC != 0 {
            // With a listener the return value is the fd, so TSYNC must report failure as ESRCH.
            load_flags |= sys::FLAG_TSYNC_ESRCH;
        }
    }

    let enosys_default = Action::Errno(libc::ENOSYS as u16);
    let enosys =
        (!default_action.is_permissive() && default_action != enosys_default).then(|| EnosysPlan {
            architectures: architectures.clone(),
            names,
        });

    Ok(Plan {
        default_action,
        architectures,
        flags,
        load_flags,
        rules,
        redundant,
        enosys,
        needs_listener,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(json: &str) -> Plan {
        lower(&serde_json::from_str(json).expect("test profile parses")).expect("profile lowers")
    }

    fn cond(index: u32, op: LinuxSeccompOperator, value: u64, value_two: u64) -> Condition {
        Condition {
            index,
            op,
            value,
            value_two,
        }
    }

    #[test]
    fn actions_and_errno_defaults() {
        let p = plan(
            r#"{"defaultAction":"SCMP_ACT_KILL","syscalls":[
                {"names":["a"],"action":"SCMP_ACT_ERRNO"},
                {"names":["b"],"action":"SCMP_ACT_ERRNO","errnoRet":38},
                {"names":["c"],"action":"SCMP_ACT_TRACE"},
                {"names":["d"],"action":"SCMP_ACT_TRACE","errnoRet":4242},
                {"names":["e"],"action":"SCMP_ACT_KILL_PROCESS"},
                {"names":["f"],"action":"SCMP_ACT_TRAP"},
                {"names":["g"],"action":"SCMP_ACT_ALLOW"},
                {"names":["h"],"action":"SCMP_ACT_LOG"}]}"#,
        );
        assert_eq!(p.default_action, Action::KillThread);
        let actions: Vec<_> = p
            .rules
            .iter()
            .map(|r| (r.syscall.as_str(), r.action))
            .collect();
        assert_eq!(
            actions,
            [
                ("a", Action::Errno(1)),
                ("b", Action::Errno(38)),
                ("c", Action::Trace(1)),
                ("d", Action::Trace(4242)),
                ("e", Action::KillProcess),
                ("f", Action::Trap),
                ("g", Action::Allow),
                ("h", Action::Log),
            ]
        );
        assert_eq!(Action::Errno(38).ret(), 0x0005_0026);
        assert_eq!(Action::Trace(4242).ret(), 0x7ff0_1092);
    }

    #[test]
    fn rules_equal_to_the_default_are_dropped() {
        let p = plan(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
                {"names":["a","b"],"action":"SCMP_ACT_ERRNO"},
                {"names":["c"],"action":"SCMP_ACT_ERRNO","errnoRet":1},
                {"names":["d"],"action":"SCMP_ACT_ERRNO","errnoRet":2},
                {"names":["e"],"action":"SCMP_ACT_ALLOW"}]}"#,
        );
        let kept: Vec<_> = p.rules.iter().map(|r| r.syscall.as_str()).collect();
        assert_eq!(kept, ["d", "e"]);
        assert_eq!(
            p.redundant,
            [
                Origin { entry: 0, name: 0 },
                Origin { entry: 0, name: 1 },
                Origin { entry: 1, name: 0 }
            ]
        );
        // KILL and KILL_THREAD are the same action
        let p = plan(
            r#"{"defaultAction":"SCMP_ACT_KILL_THREAD","syscalls":[{"names":["a"],"action":"SCMP_ACT_KILL"}]}"#,
        );
        assert!(p.rules.is_empty());
    }

    #[test]
    fn conditions_on_distinct_indexes_are_anded() {
        use LinuxSeccompOperator::*;
        let p = plan(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["fcntl","dup"],"action":"SCMP_ACT_ERRNO",
                "args":[{"index":0,"value":3,"op":"SCMP_CMP_EQ"},
                        {"index":1,"value":240,"valueTwo":16,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#,
        );
        assert_eq!(p.rules.len(), 2);
        for (r, name) in p.rules.iter().zip(["fcntl", "dup"]) {
            assert_eq!(r.syscall, name);
            assert_eq!(
                r.conditions,
                [cond(0, ScmpCmpEq, 3, 0), cond(1, ScmpCmpMaskedEq, 240, 16)]
            );
        }
        assert_eq!(
            p.rules[1].origin.to_string(),
            "linux.seccomp.syscalls[0].names[1]"
        );
    }

    #[test]
    fn repeated_index_splits_every_condition_like_runc() {
        use LinuxSeccompOperator::*;
        let p = plan(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["fcntl"],"action":"SCMP_ACT_ERRNO",
                "args":[{"index":0,"value":100,"op":"SCMP_CMP_GE"},
                        {"index":0,"value":102,"op":"SCMP_CMP_LE"},
                        {"index":1,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
        );
        let conds: Vec<_> = p.rules.iter().map(|r| r.conditions.clone()).collect();
        assert_eq!(
            conds,
            [
                vec![cond(0, ScmpCmpGe, 100, 0)],
                vec![cond(0, ScmpCmpLe, 102, 0)],
                vec![cond(1, ScmpCmpEq, 1, 0)],
            ]
        );
    }

    #[test]
    fn flags_and_listener() {
        let p = plan(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/s",
                "flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
        );
        assert!(p.needs_listener);
        assert_eq!(
            p.load_flags,
            sys::FLAG_TSYNC
                | sys::FLAG_WAIT_KILLABLE_RECV
                | sys::FLAG_NEW_LISTENER
                | sys::FLAG_TSYNC_ESRCH
        );
        let p = plan(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_TSYNC","SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_SPEC_ALLOW"]}"#,
        );
        assert!(!p.needs_listener);
        assert_eq!(
            p.load_flags,
            sys::FLAG_TSYNC | sys::FLAG_LOG | sys::FLAG_SPEC_ALLOW
        );
        assert_eq!(p.flags[2].index, 2);
        // runc 1.1.5 adds no flag of its own (no SPEC_ALLOW default)
        assert_eq!(plan(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#).load_flags, 0);
    }

    #[test]
    fn enosys_prologue_only_for_restrictive_defaults() {
        let names = r#""architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X86_64"],
            "syscalls":[{"names":["read","bogus"],"action":"SCMP_ACT_ALLOW"},{"names":["write"],"action":"SCMP_ACT_ERRNO"}]"#;
        for (default, wanted) in [
            (r#""defaultAction":"SCMP_ACT_ERRNO""#, true),
            (
                r#""defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":38"#,
                false,
            ),
            (
                r#""defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":22"#,
                true,
            ),
            (r#""defaultAction":"SCMP_ACT_KILL_PROCESS""#, true),
            (r#""defaultAction":"SCMP_ACT_KILL""#, true),
            (r#""defaultAction":"SCMP_ACT_TRAP""#, true),
            (r#""defaultAction":"SCMP_ACT_ALLOW""#, false),
            (r#""defaultAction":"SCMP_ACT_LOG""#, false),
            (r#""defaultAction":"SCMP_ACT_TRACE""#, false),
        ] {
            let p = plan(&format!("{{{default},{names}}}"));
            assert_eq!(p.enosys.is_some(), wanted, "{default}");
            if let Some(e) = p.enosys {
                assert_eq!(e.architectures, [Arch::ScmpArchX86_64, Arch::ScmpArchX86]);
                // dropped (default-equal) and unknown names still count, as in runc
                assert_eq!(e.names, ["read", "bogus", "write"]);
            }
        }
    }
}
