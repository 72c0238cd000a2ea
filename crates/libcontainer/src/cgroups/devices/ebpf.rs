//! A `BPF_PROG_TYPE_CGROUP_DEVICE` program that enforces a [`DevicePolicy`] on cgroup v2.
//!
//! The kernel calls the program with `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
//! u32 minor; }` in r1, where `access_type` is `(access << 16) | type` (type 1 block, 2 char;
//! access 1 mknod, 2 read, 4 write). Returning 1 allows, 0 denies (EPERM).
//!
//! Layout of the generated program:
//!
//! ```text
//!   r2 = ctx->access_type; r3 = r2 & 0xffff (type); r4 = r2 >> 16 (access)
//!   r5 = ctx->major; r6 = ctx->minor
//!   per exception:        if r3 != type  goto next      (each test only when not a wildcard)
//!                         if r5 != major goto next
//!                         if r6 != minor goto next
//!     deny-by-default:    r7 = r4 & ~access; if r7 != 0 goto next; return 1
//!     allow-by-default:   r7 = r4 & access;  if r7 == 0 goto next; return 0
//!   next: ...
//!   return default
//! ```
//!
//! which is exactly the v1 kernel's check (`DevicePolicy::allows`).

use crate::sys::bpf::Insn;

use super::{DeviceKind, DevicePolicy};

// Opcode pieces from include/uapi/linux/bpf_common.h and bpf.h.
const BPF_LDX: u8 = 0x01;
const BPF_ALU: u8 = 0x04;
const BPF_JMP: u8 = 0x05;
const BPF_W: u8 = 0x00;
const BPF_MEM: u8 = 0x60;
const BPF_K: u8 = 0x00;
const BPF_X: u8 = 0x08;
const BPF_AND: u8 = 0x50;
const BPF_RSH: u8 = 0x70;
const BPF_MOV: u8 = 0xb0;
const BPF_JEQ: u8 = 0x10;
const BPF_JNE: u8 = 0x50;
const BPF_EXIT: u8 = 0x90;

const R0: u8 = 0;
const R1: u8 = 1;
const R2: u8 = 2;
const R3: u8 = 3;
const R4: u8 = 4;
const R5: u8 = 5;
const R6: u8 = 6;
const R7: u8 = 7;

const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// The license string the program is loaded with (no GPL-only helpers are used).
pub const LICENSE: &std::ffi::CStr = c"Apache-2.0";

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}
fn ldx_w(dst: u8, src: u8, off: i16) -> Insn {
    insn(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
}
fn mov32_reg(dst: u8, src: u8) -> Insn {
    insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
}
fn mov32_imm(dst: u8, imm: i32) -> Insn {
    insn(BPF_ALU | BPF_MOV | BPF_K, dst, 0, 0, imm)
}
fn and32_imm(dst: u8, imm: i32) -> Insn {
    insn(BPF_ALU | BPF_AND | BPF_K, dst, 0, 0, imm)
}
fn rsh32_imm(dst: u8, imm: i32) -> Insn {
    insn(BPF_ALU | BPF_RSH | BPF_K, dst, 0, 0, imm)
}
fn jne_imm(dst: u8, imm: i32, off: i16) -> Insn {
    insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm)
}
fn jeq_imm(dst: u8, imm: i32, off: i16) -> Insn {
    insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm)
}
fn exit() -> Insn {
    insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
}

/// A conditional jump to the end of the current block, patched once the block is complete.
enum Pending {
    Done(Insn),
    ToEnd(fn(u8, i32, i16) -> Insn, u8, i32),
}

/// Generates the program for `policy`.
pub fn program(policy: &DevicePolicy) -> Vec<Insn> {
    let mut prog = vec![
        ldx_w(R2, R1, 0),
        mov32_reg(R3, R2),
        and32_imm(R3, 0xffff),
        mov32_reg(R4, R2),
        rsh32_imm(R4, 16),
        ldx_w(R5, R1, 4),
        ldx_w(R6, R1, 8),
    ];
    for e in &policy.exceptions {
        let mut block: Vec<Pending> = Vec::new();
        let kind = match e.key.kind {
            DeviceKind::Char => DEV_CHAR,
            DeviceKind::Block => DEV_BLOCK,
        };
        block.push(Pending::ToEnd(jne_imm, R3, kind));
        // Device numbers are validated to fit in i32, so the sign-extended immediate compares
        // equal to the zero-extended 32-bit context field.
        if let Some(major) = e.key.major {
            block.push(Pending::ToEnd(jne_imm, R5, major as i32));
        }
        if let Some(minor) = e.key.minor {
            block.push(Pending::ToEnd(jne_imm, R6, minor as i32));
        }
        let access = i32::from(e.access.bits());
        block.push(Pending::Done(mov32_reg(R7, R4)));
        if policy.default_allow {
            block.push(Pending::Done(and32_imm(R7, access)));
            block.push(Pending::ToEnd(jeq_imm, R7, 0));
            block.push(Pending::Done(mov32_imm(R0, 0)));
        } else {
            block.push(Pending::Done(and32_imm(R7, !access & 0x7)));
            block.push(Pending::ToEnd(jne_imm, R7, 0));
            block.push(Pending::Done(mov32_imm(R0, 1)));
        }
        block.push(Pending::Done(exit()));
        let len = block.len();
        for (i, p) in block.into_iter().enumerate() {
            prog.push(match p {
                Pending::Done(insn) => insn,
                // Offsets count from the instruction after the jump.
                Pending::ToEnd(make, reg, imm) => make(reg, imm, (len - i - 1) as i16),
            });
        }
    }
    prog.push(mov32_imm(R0, i32::from(policy.default_allow)));
    prog.push(exit());
    prog
}

#[cfg(test)]
mod tests {
    use super::super::{assemble, default_allowed, Access, DeviceKey, DeviceRule, SourcedRule};
    use super::*;

    /// A tiny interpreter for the instructions `program` emits, to check the program against
    /// the policy without a kernel.
    fn run(prog: &[Insn], access_type: u32, major: u32, minor: u32) -> u64 {
        let ctx = [access_type, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = prog[pc];
            let (dst, src) = ((i.regs & 0x0f) as usize, (i.regs >> 4) as usize);
            pc += 1;
            match i.code {
                0x61 => {
                    assert_eq!(src, 1, "loads only from the context");
                    r[dst] = u64::from(ctx[(i.off / 4) as usize]);
                }
                0xbc => r[dst] = r[src] & 0xffff_ffff,
                0xb4 => r[dst] = u64::from(i.imm as u32),
                0x54 => r[dst] = (r[dst] & u64::from(i.imm as u32)) & 0xffff_ffff,
                0x74 => r[dst] = ((r[dst] as u32) >> i.imm) as u64,
                0x55 | 0x15 => {
                    let imm = i.imm as i64 as u64;
                    let taken = if i.code == 0x55 {
                        r[dst] != imm
                    } else {
                        r[dst] == imm
                    };
                    if taken {
                        pc = (pc as i64 + i64::from(i.off)) as usize;
                    }
                }
                0x95 => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    fn check_against_policy(policy: &DevicePolicy) {
        let prog = program(policy);
        for (kind, t) in [(DeviceKind::Char, 2u32), (DeviceKind::Block, 1u32)] {
            for major in [0u32, 1, 4, 5, 10, 136, 254] {
                for minor in [0u32, 1, 2, 3, 5, 7, 200] {
                    for acc in 1u8..=7 {
                        let want = policy.allows(kind, major, minor, Access(acc));
                        let got = run(&prog, (u32::from(acc) << 16) | t, major, minor);
                        assert_eq!(
                            got == 1,
                            want,
                            "{kind:?} {major}:{minor} access {acc}: {policy:?}"
                        );
                    }
                }
            }
        }
    }

    fn src(rule: DeviceRule) -> SourcedRule {
        SourcedRule {
            field: "f".into(),
            rule,
        }
    }
    fn key(kind: DeviceKind, major: Option<u32>, minor: Option<u32>) -> DeviceKey {
        DeviceKey { kind, major, minor }
    }

    #[test]
    fn allow_all_program_is_two_instructions_after_the_prologue() {
        let prog = program(&DevicePolicy::default());
        assert_eq!(prog.len(), 9);
        assert_eq!(run(&prog, (2 << 16) | 2, 1, 3), 1);
    }

    #[test]
    fn deny_by_default_program_matches_policy() {
        let base: Vec<SourcedRule> = default_allowed().into_iter().map(src).collect();
        let user = vec![
            src(DeviceRule::Reset { allow: false }),
            src(DeviceRule::Entry {
                allow: false,
                key: key(DeviceKind::Char, Some(1), Some(3)),
                access: Access(6),
            }),
            src(DeviceRule::Entry {
                allow: true,
                key: key(DeviceKind::Block, Some(254), None),
                access: Access(2),
            }),
        ];
        let policy = DevicePolicy::from_rules(&assemble(&user, &base)).unwrap();
        check_against_policy(&policy);
        let prog = program(&policy);
        // /dev/null read denied, /dev/zero read allowed, mknod of anything allowed
        assert_eq!(run(&prog, (2 << 16) | 2, 1, 3), 0);
        assert_eq!(run(&prog, (2 << 16) | 2, 1, 5), 1);
        assert_eq!(run(&prog, (1 << 16) | 1, 8, 0), 1);
        assert_eq!(run(&prog, (2 << 16) | 1, 254, 0), 1);
        assert_eq!(run(&prog, (4 << 16) | 1, 254, 0), 0);
    }

    #[test]
    fn allow_by_default_program_matches_policy() {
        let user = vec![
            src(DeviceRule::Entry {
                allow: false,
                key: key(DeviceKind::Char, Some(1), Some(3)),
                access: Access(7),
            }),
            src(DeviceRule::Entry {
                allow: false,
                key: key(DeviceKind::Block, None, None),
                access: Access(4),
            }),
        ];
        let policy = DevicePolicy::from_rules(&user).unwrap();
        check_against_policy(&policy);
    }

    #[test]
    fn whitelist_with_split_access_matches_kernel_semantics() {
        let user = vec![
            src(DeviceRule::Reset { allow: false }),
            src(DeviceRule::Entry {
                allow: true,
                key: key(DeviceKind::Char, Some(4), Some(1)),
                access: Access(2),
            }),
            src(DeviceRule::Entry {
                allow: true,
                key: key(DeviceKind::Char, Some(4), None),
                access: Access(4),
            }),
        ];
        check_against_policy(&DevicePolicy::from_rules(&user).unwrap());
    }

    #[test]
    fn registers_are_encoded_dst_low_src_high() {
        let i = mov32_reg(R7, R4);
        assert_eq!(i.regs, 0x47);
        assert_eq!(i.code, 0xbc);
    }
}
