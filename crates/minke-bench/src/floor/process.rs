//! The container process's own settings (rlimits, ids, capabilities, no_new_privs, umask,
//! seccomp) and its execve, shared by the init and `exec`.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use caps::CapSet;
use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use nix::sys::resource::setrlimit;
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, execve, setgroups, setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::{Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompOperator};
use thiserror::Error;

use super::plan::ProcessPlan;

/// Errors of process setup, one per step.
#[derive(Debug, Error)]
pub enum ProcessError {
    /// setrlimit failed.
    #[error("process.rlimits: setting {resource}")]
    Rlimit {
        /// The resource.
        resource: String,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// chdir to `process.cwd` failed.
    #[error("process.cwd: chdir to {path}")]
    Cwd {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// setgroups/setresgid/setresuid failed.
    #[error("process.user: switching to uid {uid} gid {gid}")]
    Ids {
        /// uid.
        uid: u32,
        /// gid.
        gid: u32,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// A capability set could not be applied.
    #[error("process.capabilities.{set}: applying")]
    Caps {
        /// Which set.
        set: &'static str,
        /// The cause.
        #[source]
        source: caps::errors::CapsError,
    },
    /// PR_SET_NO_NEW_PRIVS failed.
    #[error("process.noNewPrivileges: prctl")]
    NoNewPrivs(#[source] nix::Error),
    /// The seccomp profile uses something the floor does not implement.
    #[error("linux.seccomp: {0} is not supported by the floor")]
    SeccompUnsupported(String),
    /// libseccomp refused the profile or the load.
    #[error("linux.seccomp: {step}")]
    Seccomp {
        /// Which step.
        step: String,
        /// The cause.
        #[source]
        source: libseccomp::error::SeccompError,
    },
    /// `process.args[0]` was not found.
    #[error("process.args[0]: {0:?} not found in PATH")]
    NotFound(String),
    /// execve failed.
    #[error("process.args[0]: executing {path}")]
    Exec {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: nix::Error,
    },
}

fn action(action: LinuxSeccompAction, errno: Option<u32>) -> Result<ScmpAction, ProcessError> {
    Ok(match action {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32)
        }
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16)
        }
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => {
            return Err(ProcessError::SeccompUnsupported("SCMP_ACT_NOTIFY".into()))
        }
    })
}

fn arch(arch: Arch) -> Result<ScmpArch, ProcessError> {
    Ok(match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        other => {
            return Err(ProcessError::SeccompUnsupported(format!(
                "architecture {other}"
            )))
        }
    })
}

fn seccomp_err(
    step: impl Into<String>,
) -> impl FnOnce(libseccomp::error::SeccompError) -> ProcessError {
    let step = step.into();
    move |source| ProcessError::Seccomp { step, source }
}

/// Builds the filter of a profile (not loaded yet). Syscall names this libseccomp does not know
/// are skipped, as runc and crun do; rules whose action is the default one are redundant and
/// skipped too.
pub fn compile_seccomp(profile: &LinuxSeccomp) -> Result<ScmpFilterContext, ProcessError> {
    if profile.flags().as_ref().is_some_and(|f| !f.is_empty()) || profile.listener_path().is_some()
    {
        return Err(ProcessError::SeccompUnsupported(
            "flags/listenerPath".into(),
        ));
    }
    let default = action(profile.default_action(), profile.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default).map_err(seccomp_err("creating the filter"))?;
    // The floor sets no_new_privs itself (and refuses seccomp without it, see `prepare`).
    ctx.set_ctl_nnp(false)
        .map_err(seccomp_err("disabling libseccomp's own no_new_privs"))?;
    for a in profile.architectures().iter().flatten() {
        let a = arch(*a)?;
        if a != ScmpArch::Native {
            ctx.add_arch(a)
                .map_err(seccomp_err(format!("adding architecture {a:?}")))?;
        }
    }
    for (i, rule) in profile.syscalls().iter().flatten().enumerate() {
        let act = action(rule.action(), rule.errno_ret())?;
        if act == default {
            continue;
        }
        let mut conditions = Vec::new();
        let mut indexes = BTreeSet::new();
        for arg in rule.args().iter().flatten() {
            if !indexes.insert(arg.index()) {
                return Err(ProcessError::SeccompUnsupported(format!(
                    "syscalls[{i}]: two conditions on argument {}",
                    arg.index()
                )));
            }
            let op = match arg.op() {
                LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
                LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
                LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
                LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
                LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
                LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
                LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(arg.value()),
            };
            let datum = if arg.op() == LinuxSeccompOperator::ScmpCmpMaskedEq {
                arg.value_two().unwrap_or(0)
            } else {
                arg.value()
            };
            conditions.push(ScmpArgCompare::new(arg.index() as u32, op, datum));
        }
        for name in rule.names() {
            let Ok(syscall) = ScmpSyscall::from_name(name) else {
                continue;
            };
            ctx.add_rule_conditional(act, syscall, &conditions)
                .map_err(seccomp_err(format!("syscalls[{i}]: adding {name}")))?;
        }
    }
    Ok(ctx)
}

/// Loads a compiled filter into the calling process.
pub fn load_seccomp(ctx: &ScmpFilterContext) -> Result<(), ProcessError> {
    ctx.load().map_err(seccomp_err("loading the filter"))
}

fn apply_caps(
    set: CapSet,
    name: &'static str,
    value: &caps::CapsHashSet,
) -> Result<(), ProcessError> {
    caps::set(None, set, value).map_err(|source| ProcessError::Caps { set: name, source })
}

/// Applies the process's settings, in the order the kernel allows: rlimits, cwd, ids, the
/// bounding set (needs CAP_SETPCAP), inheritable, effective, permitted, ambient, umask,
/// no_new_privs; returns the compiled seccomp filter, which the caller loads right before
/// execve.
///
/// Raising an ambient capability needs it in the inheritable set; runc's default config lists
/// ambient capabilities but no inheritable ones, and runc and crun then leave the ambient set
/// empty without failing. The floor does the same.
pub fn prepare(p: &ProcessPlan) -> Result<Option<ScmpFilterContext>, ProcessError> {
    if p.seccomp.is_some() && !p.no_new_privileges {
        return Err(ProcessError::SeccompUnsupported(
            "a profile without process.noNewPrivileges".into(),
        ));
    }
    for (resource, soft, hard) in &p.rlimits {
        setrlimit(*resource, *soft, *hard).map_err(|source| ProcessError::Rlimit {
            resource: format!("{resource:?}"),
            source,
        })?;
    }
    chdir(&p.cwd).map_err(|source| ProcessError::Cwd {
        path: p.cwd.clone(),
        source,
    })?;
    let ids_err = |source| ProcessError::Ids {
        uid: p.uid,
        gid: p.gid,
        source,
    };
    let gids: Vec<Gid> = p
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    setgroups(&gids).map_err(ids_err)?;
    let gid = Gid::from_raw(p.gid);
    setresgid(gid, gid, gid).map_err(ids_err)?;
    let uid = Uid::from_raw(p.uid);
    setresuid(uid, uid, uid).map_err(ids_err)?;
    if let Some(c) = &p.caps {
        for cap in caps::all().difference(&c.bounding) {
            caps::drop(None, CapSet::Bounding, *cap).map_err(|source| ProcessError::Caps {
                set: "bounding",
                source,
            })?;
        }
        apply_caps(CapSet::Inheritable, "inheritable", &c.inheritable)?;
        apply_caps(CapSet::Effective, "effective", &c.effective)?;
        apply_caps(CapSet::Permitted, "permitted", &c.permitted)?;
        // caps::set of the ambient set probes every capability; clearing and raising the few
        // wanted ones costs one prctl each.
        let ambient_err = |source| ProcessError::Caps {
            set: "ambient",
            source,
        };
        caps::clear(None, CapSet::Ambient).map_err(ambient_err)?;
        for cap in c.ambient.intersection(&c.inheritable) {
            caps::raise(None, CapSet::Ambient, *cap).map_err(ambient_err)?;
        }
    }
    umask(Mode::from_bits_truncate(p.umask));
    if p.no_new_privileges {
        nix::sys::prctl::set_no_new_privs().map_err(ProcessError::NoNewPrivs)?;
    }
    p.seccomp.as_ref().map(compile_seccomp).transpose()
}

/// Finds `name` like execvp: as given when it has a slash, else in the `PATH` entries.
pub fn resolve(name: &str, path: Option<&str>) -> Result<PathBuf, ProcessError> {
    if name.contains('/') {
        return Ok(PathBuf::from(name));
    }
    let search = path.unwrap_or("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    search
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| ProcessError::NotFound(name.to_string()))
}

/// Executes the process; returns only on failure.
pub fn exec(p: &ProcessPlan) -> ProcessError {
    let name = p.args[0].to_string_lossy().into_owned();
    let path = match resolve(&name, p.path.as_deref()) {
        Ok(path) => path,
        Err(e) => return e,
    };
    let c_path = match CString::new(path.as_os_str().as_bytes()) {
        Ok(c) => c,
        Err(_) => return ProcessError::NotFound(name),
    };
    match execve(&c_path, &p.args, &p.env) {
        Ok(never) => match never {},
        Err(source) => ProcessError::Exec { path, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_like_execvp() {
        assert_eq!(resolve("/bin/x", None).unwrap(), PathBuf::from("/bin/x"));
        assert_eq!(
            resolve("sh", Some("/nonexistent:/bin")).unwrap(),
            PathBuf::from("/bin/sh")
        );
        assert!(matches!(
            resolve("no-such-program-xyz", Some("/bin")),
            Err(ProcessError::NotFound(_))
        ));
    }

    #[test]
    fn compiles_the_benchmark_profile() {
        let names = crate::seccomp_profile::x86_64_syscall_names();
        let profile: LinuxSeccomp =
            serde_json::from_value(crate::seccomp_profile::docker_like_profile(&names)).unwrap();
        let ctx = compile_seccomp(&profile).unwrap();
        let mut file = tempfile::tempfile().unwrap();
        ctx.export_bpf(&file).unwrap();
        let len = std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).unwrap();
        // A few hundred allowed syscalls on three architectures make a sizeable program
        // (8 bytes per BPF instruction).
        assert!(len > 8 * 300, "{len} bytes");
    }

    #[test]
    fn refuses_notify() {
        let profile: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}]
        }))
        .unwrap();
        let err = compile_seccomp(&profile).err().unwrap();
        assert_eq!(
            err.to_string(),
            "linux.seccomp: SCMP_ACT_NOTIFY is not supported by the floor"
        );
    }

    #[test]
    fn refuses_two_conditions_on_one_argument() {
        let profile: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [
                {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"},
                {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}
            ]}]
        }))
        .unwrap();
        assert!(compile_seccomp(&profile).is_err());
    }
}
