//! The `-ENOSYS` prologue: syscalls numbered above the highest syscall the profile names return
//! `ENOSYS` instead of the (restrictive) default action.
//!
//! Why: a profile written before a syscall existed cannot name it. If the kernel (or a newer
//! libc) uses it, `EPERM` or a kill is the wrong answer: programs fall back to an older syscall
//! only on `ENOSYS` (glibc does this for `clone3`, `faccessat2`, `statx`, ...).
//!
//! What runc 1.1.5 does (`libcontainer/seccomp/patchbpf`, verified with `runc --debug`, which
//! prints the prologue): when the default action is not ALLOW, LOG or TRACE, it prepends a
//! classic-BPF prologue to libseccomp's program. For every architecture *listed in
//! `architectures`* it takes the largest syscall number any profile name has on that
//! architecture and sends larger numbers to `ret ERRNO(ENOSYS)`; everything else falls through to
//! libseccomp's filter. With no `architectures`, the prologue is empty. x86_64 and x32 share one
//! audit arch and are told apart by bit 30 of the syscall number; on s390/s390x syscall 0 (the
//! multiplexer unknown syscalls end up in) also gets `ENOSYS`.
//!
//! minke emits an equivalent prologue of its own: same decisions, its own layout. It is pure:
//! the syscall tables come in through a resolver so tests can use fixed numbers.

use oci_spec::runtime::Arch;

use super::bpf::{Insn, BPF_JEQ, BPF_JGT, BPF_JSET, SECCOMP_DATA_ARCH, SECCOMP_DATA_NR};
use super::rules::{Action, EnosysPlan};
use super::SeccompError;

/// Bit 30 of the syscall number marks an x32 syscall on `AUDIT_ARCH_X86_64`.
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The `AUDIT_ARCH_*` value the kernel puts in `seccomp_data.arch` for a libseccomp arch.
/// libseccomp's `SCMP_ARCH_*` equal these except x32 (a pseudo value: x32 runs as x86_64).
pub fn audit_arch(arch: Arch) -> u32 {
    match arch {
        Arch::ScmpArchX32 => Arch::ScmpArchX86_64 as u32,
        Arch::ScmpArchNative => audit_arch(native_arch()),
        other => other as u32,
    }
}

/// The spec architecture of this build.
pub fn native_arch() -> Arch {
    if cfg!(target_arch = "x86_64") {
        Arch::ScmpArchX86_64
    } else if cfg!(target_arch = "x86") {
        Arch::ScmpArchX86
    } else if cfg!(target_arch = "aarch64") {
        Arch::ScmpArchAarch64
    } else if cfg!(target_arch = "arm") {
        Arch::ScmpArchArm
    } else if cfg!(target_arch = "riscv64") {
        Arch::ScmpArchRiscv64
    } else if cfg!(target_arch = "s390x") {
        Arch::ScmpArchS390x
    } else if cfg!(all(target_arch = "powerpc64", target_endian = "little")) {
        Arch::ScmpArchPpc64le
    } else if cfg!(target_arch = "powerpc64") {
        Arch::ScmpArchPpc64
    } else if cfg!(target_arch = "loongarch64") {
        Arch::ScmpArchLoongarch64
    } else {
        Arch::ScmpArchNative
    }
}

/// The checks for one `AUDIT_ARCH_*` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `nr > max` → ENOSYS.
    Plain { audit_arch: u32, max: u32 },
    /// s390/s390x: also `nr == 0` → ENOSYS.
    S390 { audit_arch: u32, max: u32 },
    /// x86_64 and/or x32 (bit 30 set); a missing half is not checked (falls to the filter).
    X86_64 {
        amd64_max: Option<u32>,
        x32_max: Option<u32>,
    },
}

/// Compute the sections: for each listed architecture, the largest number any name resolves to
/// on it (`resolve` gives `None` for names it does not know and negative pseudo numbers for
/// names that do not exist on that architecture; both are ignored).
pub fn sections(plan: &EnosysPlan, resolve: impl Fn(&str, Arch) -> Option<i32>) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    for &arch in &plan.architectures {
        let max = plan
            .names
            .iter()
            .filter_map(|n| resolve(n, arch))
            .filter(|&nr| nr > 0)
            .max();
        let Some(max) = max.map(|m| m as u32) else {
            log::warn!(
                "seccomp: no syscall of the profile exists on {arch}: no -ENOSYS prologue for it"
            );
            continue;
        };
        match arch {
            Arch::ScmpArchX86_64 | Arch::ScmpArchX32 => {
                let x32 = arch == Arch::ScmpArchX32;
                let existing = out.iter_mut().find_map(|s| match s {
                    Section::X86_64 { amd64_max, x32_max } => Some((amd64_max, x32_max)),
                    _ => None,
                });
                match existing {
                    Some((amd64_max, x32_max)) => {
                        *(if x32 { x32_max } else { amd64_max }) = Some(max)
                    }
                    None => out.push(if x32 {
                        Section::X86_64 {
                            amd64_max: None,
                            x32_max: Some(max),
                        }
                    } else {
                        Section::X86_64 {
                            amd64_max: Some(max),
                            x32_max: None,
                        }
                    }),
                }
            }
            Arch::ScmpArchS390 | Arch::ScmpArchS390x => out.push(Section::S390 {
                audit_arch: audit_arch(arch),
                max,
            }),
            _ => out.push(Section::Plain {
                audit_arch: audit_arch(arch),
                max,
            }),
        }
    }
    out
}

/// Where a jump of the prologue goes.
#[derive(Debug, Clone, Copy)]
enum To {
    Next,
    Skip(u8),
    Enosys,
    Filter,
}

/// Emit the prologue for `sections` (empty when there is nothing to check). It ends with
/// `ret ERRNO(ENOSYS)`; falling through it starts the program that follows.
pub fn prologue(sections: &[Section]) -> Result<Vec<Insn>, SeccompError> {
    if sections.is_empty() {
        return Ok(Vec::new());
    }
    // (instruction, jt, jf) with symbolic targets; `ja` uses jt.
    let mut code: Vec<(Insn, To, To)> =
        vec![(Insn::load_abs(SECCOMP_DATA_ARCH), To::Next, To::Next)];
    let cond = |op, k, jt, jf| (Insn::jump_if(op, k, 0, 0), jt, jf);
    for section in sections {
        let mut body = vec![(Insn::load_abs(SECCOMP_DATA_NR), To::Next, To::Next)];
        let audit = match *section {
            Section::Plain { audit_arch, max } => {
                body.push(cond(BPF_JGT, max, To::Enosys, To::Filter));
                audit_arch
            }
            Section::S390 { audit_arch, max } => {
                body.push(cond(BPF_JEQ, 0, To::Enosys, To::Next));
                body.push(cond(BPF_JGT, max, To::Enosys, To::Filter));
                audit_arch
            }
            Section::X86_64 { amd64_max, x32_max } => {
                match (amd64_max, x32_max) {
                    (Some(amd64), Some(x32)) => {
                        body.push(cond(BPF_JSET, X32_SYSCALL_BIT, To::Next, To::Skip(1)));
                        body.push(cond(BPF_JGT, x32, To::Enosys, To::Filter));
                        body.push(cond(BPF_JGT, amd64, To::Enosys, To::Filter));
                    }
                    (Some(amd64), None) => {
                        body.push(cond(BPF_JSET, X32_SYSCALL_BIT, To::Filter, To::Next));
                        body.push(cond(BPF_JGT, amd64, To::Enosys, To::Filter));
                    }
                    (None, Some(x32)) => {
                        body.push(cond(BPF_JSET, X32_SYSCALL_BIT, To::Next, To::Filter));
                        body.push(cond(BPF_JGT, x32, To::Enosys, To::Filter));
                    }
                    (None, None) => continue,
                }
                Arch::ScmpArchX86_64 as u32
            }
        };
        let skip = u8::try_from(body.len()).map_err(|_| SeccompError::Export {
            reason: "-ENOSYS prologue section too long".into(),
        })?;
        code.push(cond(BPF_JEQ, audit, To::Next, To::Skip(skip)));
        code.extend(body);
    }
    // Other architectures: straight to the filter (which applies its bad-arch action).
    code.push((Insn::jump(0), To::Filter, To::Next));
    let enosys_at = code.len();
    let filter_at = enosys_at + 1;

    let mut out = Vec::with_capacity(filter_at);
    for (pc, (insn, jt, jf)) in code.into_iter().enumerate() {
        let offset = |to: To| -> Result<usize, SeccompError> {
            Ok(match to {
                To::Next => 0,
                To::Skip(n) => usize::from(n),
                To::Enosys => enosys_at - pc - 1,
                To::Filter => filter_at - pc - 1,
            })
        };
        let short = |to: To| -> Result<u8, SeccompError> {
            u8::try_from(offset(to)?).map_err(|_| SeccompError::Export {
                reason: "-ENOSYS prologue jump longer than 255 instructions".into(),
            })
        };
        let mut insn = insn;
        if insn == Insn::jump(0) {
            insn.k = offset(jt)? as u32;
        } else if insn.code & 0x07 == super::bpf::BPF_JMP {
            insn.jt = short(jt)?;
            insn.jf = short(jf)?;
        }
        out.push(insn);
    }
    out.push(Insn::ret(Action::Errno(libc::ENOSYS as u16).ret()));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::bpf::interp::{run, Data};
    use super::*;

    const AMD64: u32 = 0xc000_003e;
    const I386: u32 = 0x4000_0003;
    const S390X: u32 = 0x8000_0016;
    const FILTER: u32 = 0x7fff_0000; // stands for "libseccomp's program"
    const ENOSYS: u32 = 0x0005_0026;

    fn plan(arches: &[Arch], names: &[&str]) -> EnosysPlan {
        EnosysPlan {
            architectures: arches.to_vec(),
            names: names.iter().map(|s| s.to_string()).collect(),
        }
    }

    /// A fake syscall table.
    fn table(name: &str, arch: Arch) -> Option<i32> {
        let x32 = X32_SYSCALL_BIT as i32;
        match (name, arch) {
            ("read", Arch::ScmpArchX86_64) => Some(0),
            ("read", Arch::ScmpArchX32) => Some(x32),
            ("read", Arch::ScmpArchX86) => Some(3),
            ("getppid", Arch::ScmpArchX86_64) => Some(110),
            ("getppid", Arch::ScmpArchX32) => Some(x32 + 110),
            ("getppid", Arch::ScmpArchX86) => Some(64),
            ("execve", Arch::ScmpArchX32) => Some(x32 + 520),
            ("execve", Arch::ScmpArchX86_64) => Some(59),
            ("execve", Arch::ScmpArchS390x) => Some(11),
            ("socketcall", Arch::ScmpArchX86) => Some(102),
            ("socketcall", _) => Some(-101),
            _ => None,
        }
    }

    fn verdict(prog: &[Insn], arch: u32, nr: u32) -> u32 {
        let mut full = prog.to_vec();
        full.push(Insn::ret(FILTER));
        run(
            &full,
            &Data {
                nr: nr as i32,
                arch,
                ..Default::default()
            },
        )
    }

    #[test]
    fn no_listed_architecture_means_no_prologue() {
        let s = sections(&plan(&[], &["read", "getppid"]), table);
        assert!(s.is_empty());
        assert!(prologue(&s).unwrap().is_empty());
    }

    #[test]
    fn largest_number_per_arch_ignoring_unknown_and_pseudo() {
        let s = sections(
            &plan(
                &[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32],
                &["read", "getppid", "execve", "socketcall", "bogus"],
            ),
            table,
        );
        assert_eq!(
            s,
            [
                Section::X86_64 {
                    amd64_max: Some(110),
                    x32_max: Some(X32_SYSCALL_BIT + 520)
                },
                Section::Plain {
                    audit_arch: I386,
                    max: 102
                },
            ]
        );
    }

    #[test]
    fn amd64_only() {
        let p = prologue(&sections(
            &plan(&[Arch::ScmpArchX86_64], &["read", "getppid"]),
            table,
        ))
        .unwrap();
        assert_eq!(verdict(&p, AMD64, 110), FILTER);
        assert_eq!(verdict(&p, AMD64, 0), FILTER);
        assert_eq!(verdict(&p, AMD64, 111), ENOSYS);
        assert_eq!(verdict(&p, AMD64, 435), ENOSYS);
        // x32 syscalls are not this section's business
        assert_eq!(verdict(&p, AMD64, X32_SYSCALL_BIT + 600), FILTER);
        // other architectures go to the filter (and its bad-arch action)
        assert_eq!(verdict(&p, I386, 500), FILTER);
    }

    #[test]
    fn amd64_and_x32_and_i386() {
        let p = prologue(&sections(
            &plan(
                &[Arch::ScmpArchX86, Arch::ScmpArchX32, Arch::ScmpArchX86_64],
                &["read", "getppid", "execve"],
            ),
            table,
        ))
        .unwrap();
        assert_eq!(verdict(&p, AMD64, 110), FILTER);
        assert_eq!(verdict(&p, AMD64, 111), ENOSYS);
        assert_eq!(verdict(&p, AMD64, X32_SYSCALL_BIT + 520), FILTER);
        assert_eq!(verdict(&p, AMD64, X32_SYSCALL_BIT + 521), ENOSYS);
        assert_eq!(verdict(&p, I386, 64), FILTER);
        assert_eq!(verdict(&p, I386, 65), ENOSYS);
    }

    #[test]
    fn x32_only() {
        let p = prologue(&sections(&plan(&[Arch::ScmpArchX32], &["getppid"]), table)).unwrap();
        assert_eq!(verdict(&p, AMD64, 5000), FILTER);
        assert_eq!(verdict(&p, AMD64, X32_SYSCALL_BIT + 110), FILTER);
        assert_eq!(verdict(&p, AMD64, X32_SYSCALL_BIT + 111), ENOSYS);
    }

    #[test]
    fn s390x_multiplexer() {
        let p = prologue(&sections(&plan(&[Arch::ScmpArchS390x], &["execve"]), table)).unwrap();
        assert_eq!(verdict(&p, S390X, 0), ENOSYS);
        assert_eq!(verdict(&p, S390X, 11), FILTER);
        assert_eq!(verdict(&p, S390X, 12), ENOSYS);
    }

    #[test]
    fn arch_without_known_names_is_skipped() {
        let s = sections(
            &plan(&[Arch::ScmpArchS390x, Arch::ScmpArchX86_64], &["getppid"]),
            table,
        );
        assert_eq!(
            s,
            [Section::X86_64 {
                amd64_max: Some(110),
                x32_max: None
            }]
        );
    }

    #[test]
    fn native_audit_arch() {
        assert_eq!(audit_arch(Arch::ScmpArchX32), AMD64);
        assert_eq!(audit_arch(Arch::ScmpArchAarch64), 0xc000_00b7);
        if cfg!(target_arch = "x86_64") {
            assert_eq!(audit_arch(Arch::ScmpArchNative), AMD64);
        }
    }
}
