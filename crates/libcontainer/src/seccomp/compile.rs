//! The libseccomp half of compiling: [`Plan`] → libseccomp context → exported BPF, with minke's
//! `-ENOSYS` prologue in front. Runs before privileges are dropped; may allocate.

use std::io::{Read, Seek, SeekFrom};

use libseccomp::{ScmpArch, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::Arch;

use super::bpf::{self, Insn};
use super::enosys;
use super::rules::{Action, Plan};
use super::SeccompError;
use crate::sys::seccomp as sys;

/// runc turns on libseccomp's binary-tree optimisation above this many rules (libseccomp 2.5.x
/// misbehaves with it on an empty filter).
const OPTIMIZE_ABOVE: usize = 32;

/// The libseccomp token of a spec architecture.
pub fn scmp_arch(arch: Arch) -> ScmpArch {
    match arch {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

fn libseccomp_err(
    field: impl Into<String>,
    what: impl Into<String>,
) -> impl FnOnce(libseccomp::error::SeccompError) -> SeccompError {
    let (field, what) = (field.into(), what.into());
    move |source| SeccompError::Libseccomp {
        field,
        what,
        source,
    }
}

/// Check that the kernel can do what the plan asks (flags and actions), naming the field.
pub fn check_kernel(plan: &Plan) -> Result<(), SeccompError> {
    for f in &plan.flags {
        // WAIT_KILLABLE_RECV is only accepted together with NEW_LISTENER.
        let probe = if f.bits == sys::FLAG_WAIT_KILLABLE_RECV {
            f.bits | sys::FLAG_NEW_LISTENER
        } else {
            f.bits
        };
        if !sys::filter_flags_supported(probe) {
            return Err(SeccompError::Unsupported {
                field: format!("linux.seccomp.flags[{}]", f.index),
                what: f.flag.to_string(),
            });
        }
    }
    if plan.needs_listener
        && plan.load_flags & sys::FLAG_TSYNC_ESRCH != 0
        && !sys::filter_flags_supported(plan.load_flags)
    {
        return Err(SeccompError::Unsupported {
            field: "linux.seccomp.flags".into(),
            what: "SECCOMP_FILTER_FLAG_TSYNC together with SCMP_ACT_NOTIFY (needs TSYNC_ESRCH, Linux 5.7)".into(),
        });
    }
    let mut actions = vec![(
        "linux.seccomp.defaultAction".to_string(),
        plan.default_action,
    )];
    actions.extend(
        plan.rules
            .iter()
            .map(|r| (format!("{}", r.origin), r.action)),
    );
    for (field, action) in actions {
        let kernel_value = match action {
            Action::Errno(_) => Action::Errno(0).ret(),
            Action::Trace(_) => Action::Trace(0).ret(),
            a => a.ret(),
        };
        if !sys::action_available(kernel_value) {
            return Err(SeccompError::Unsupported {
                field,
                what: format!("{action:?}"),
            });
        }
    }
    Ok(())
}

/// Build the libseccomp context for `plan`. Unknown syscall names are skipped with a debug log
/// (as runc does); every other libseccomp error names the rule it came from.
pub fn to_libseccomp(plan: &Plan) -> Result<ScmpFilterContext, SeccompError> {
    let mut ctx = ScmpFilterContext::new(plan.default_action.to_libseccomp()).map_err(
        libseccomp_err("linux.seccomp.defaultAction", "the default action"),
    )?;
    for (i, arch) in plan.architectures.iter().enumerate() {
        ctx.add_arch(scmp_arch(*arch)).map_err(libseccomp_err(
            format!("linux.seccomp.architectures[{i}]"),
            arch.to_string(),
        ))?;
    }
    if plan.rules.len() > OPTIMIZE_ABOVE {
        if let Err(e) = ctx.set_ctl_optimize(2) {
            log::debug!("seccomp: binary tree optimisation not available: {e}");
        }
    }
    for rule in &plan.rules {
        let Ok(syscall) = ScmpSyscall::from_name(&rule.syscall) else {
            log::debug!(
                "unknown seccomp syscall {:?} ignored ({})",
                rule.syscall,
                rule.origin
            );
            continue;
        };
        let what = || format!("the rule for {:?}", rule.syscall);
        if rule.conditions.is_empty() {
            ctx.add_rule(rule.action.to_libseccomp(), syscall)
                .map_err(libseccomp_err(rule.origin.to_string(), what()))?;
        } else {
            let conditions: Vec<_> = rule.conditions.iter().map(|c| c.to_libseccomp()).collect();
            ctx.add_rule_conditional(rule.action.to_libseccomp(), syscall, &conditions)
                .map_err(libseccomp_err(rule.origin.to_string(), what()))?;
        }
    }
    Ok(ctx)
}

/// The program libseccomp generates for `ctx`.
pub fn export(ctx: &ScmpFilterContext) -> Result<Vec<Insn>, SeccompError> {
    // A memfd rather than a pipe: the program may be larger than a pipe buffer.
    let fd =
        nix::sys::memfd::memfd_create(c"minke-seccomp-bpf", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| SeccompError::ExportIo(e.into()))?;
    ctx.export_bpf(&fd)
        .map_err(libseccomp_err("linux.seccomp", "exporting the program"))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))
        .map_err(SeccompError::ExportIo)?;
    file.read_to_end(&mut bytes)
        .map_err(SeccompError::ExportIo)?;
    bpf::parse(&bytes)
}

/// Resolve a syscall name on an architecture with libseccomp's tables.
pub fn resolve(name: &str, arch: Arch) -> Option<i32> {
    ScmpSyscall::from_name_by_arch(name, scmp_arch(arch))
        .ok()
        .map(i32::from)
}

/// The final program: prologue (if any) + libseccomp's program.
pub fn program(plan: &Plan) -> Result<Vec<Insn>, SeccompError> {
    let ctx = to_libseccomp(plan)?;
    let mut program = match &plan.enosys {
        Some(e) => enosys::prologue(&enosys::sections(e, resolve))?,
        None => Vec::new(),
    };
    program.extend(export(&ctx)?);
    if program.len() > bpf::MAX_INSNS {
        return Err(SeccompError::TooLarge {
            len: program.len(),
            max: bpf::MAX_INSNS,
        });
    }
    Ok(program)
}
