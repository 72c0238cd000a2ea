//! Classic BPF as seccomp uses it: the instruction type, the few opcodes minke emits, and the
//! parser for the program libseccomp exports.

use super::SeccompError;

/// The largest program the kernel accepts (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

// Instruction classes and fields (linux/bpf_common.h).
pub const BPF_LD: u16 = 0x00;
pub const BPF_JMP: u16 = 0x05;
pub const BPF_RET: u16 = 0x06;
pub const BPF_W: u16 = 0x00;
pub const BPF_ABS: u16 = 0x20;
pub const BPF_JA: u16 = 0x00;
pub const BPF_JEQ: u16 = 0x10;
pub const BPF_JGT: u16 = 0x20;
pub const BPF_JSET: u16 = 0x40;
pub const BPF_K: u16 = 0x00;

/// Offsets into `struct seccomp_data`.
pub const SECCOMP_DATA_NR: u32 = 0;
pub const SECCOMP_DATA_ARCH: u32 = 4;

/// One classic-BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

impl Insn {
    /// `ld [off]`: load a 32-bit word of `seccomp_data`.
    pub const fn load_abs(off: u32) -> Self {
        Insn {
            code: BPF_LD | BPF_W | BPF_ABS,
            jt: 0,
            jf: 0,
            k: off,
        }
    }

    /// `ret #k`.
    pub const fn ret(k: u32) -> Self {
        Insn {
            code: BPF_RET | BPF_K,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// `ja +k`.
    pub const fn jump(k: u32) -> Self {
        Insn {
            code: BPF_JMP | BPF_JA,
            jt: 0,
            jf: 0,
            k,
        }
    }

    /// A conditional jump `op` against the constant `k`.
    pub const fn jump_if(op: u16, k: u32, jt: u8, jf: u8) -> Self {
        Insn {
            code: BPF_JMP | op | BPF_K,
            jt,
            jf,
            k,
        }
    }

    pub fn to_raw(self) -> libc::sock_filter {
        libc::sock_filter {
            code: self.code,
            jt: self.jt,
            jf: self.jf,
            k: self.k,
        }
    }
}

/// Parse a program as `seccomp_export_bpf` writes it: `struct sock_filter`s in host byte order.
pub fn parse(bytes: &[u8]) -> Result<Vec<Insn>, SeccompError> {
    if !bytes.chunks_exact(8).remainder().is_empty() {
        return Err(SeccompError::Export {
            reason: format!(
                "exported program is {} bytes, not a whole number of instructions",
                bytes.len()
            ),
        });
    }
    Ok(bytes
        .chunks_exact(8)
        .map(|c| Insn {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// A tiny interpreter of classic BPF over a `seccomp_data`, used by the unit tests to check
/// what a compiled program decides without loading it into a kernel.
#[cfg(test)]
pub mod interp {
    use super::*;

    const BPF_LDX: u16 = 0x01;
    const BPF_ST: u16 = 0x02;
    const BPF_STX: u16 = 0x03;
    const BPF_ALU: u16 = 0x04;
    const BPF_MISC: u16 = 0x07;
    const BPF_IMM: u16 = 0x00;
    const BPF_MEM: u16 = 0x60;
    const BPF_JGE: u16 = 0x30;
    const BPF_X: u16 = 0x08;
    const BPF_A: u16 = 0x10;

    /// `struct seccomp_data` (host byte order).
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Data {
        pub nr: i32,
        pub arch: u32,
        pub ip: u64,
        pub args: [u64; 6],
    }

    impl Data {
        fn word(&self, off: u32) -> u32 {
            let mut bytes = Vec::with_capacity(64);
            bytes.extend_from_slice(&self.nr.to_ne_bytes());
            bytes.extend_from_slice(&self.arch.to_ne_bytes());
            bytes.extend_from_slice(&self.ip.to_ne_bytes());
            for a in self.args {
                bytes.extend_from_slice(&a.to_ne_bytes());
            }
            let o = off as usize;
            assert!(o & 3 == 0 && o + 4 <= bytes.len(), "bad load offset {off}");
            u32::from_ne_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]])
        }
    }

    /// Run `prog` on `data` and return the filter's verdict (`SECCOMP_RET_*` value).
    pub fn run(prog: &[Insn], data: &Data) -> u32 {
        let (mut a, mut x) = (0u32, 0u32);
        let mut mem = [0u32; 16];
        let mut pc = 0usize;
        loop {
            let i = prog
                .get(pc)
                .unwrap_or_else(|| panic!("fell off the program at {pc}"));
            pc += 1;
            let class = i.code & 0x07;
            let src = if i.code & BPF_X != 0 { x } else { i.k };
            match class {
                BPF_LD => match i.code & 0xe0 {
                    BPF_ABS => a = data.word(i.k),
                    BPF_IMM => a = i.k,
                    BPF_MEM => a = mem[i.k as usize],
                    m => panic!("unsupported ld mode {m:#x}"),
                },
                BPF_LDX => match i.code & 0xe0 {
                    BPF_IMM => x = i.k,
                    BPF_MEM => x = mem[i.k as usize],
                    m => panic!("unsupported ldx mode {m:#x}"),
                },
                BPF_ST => mem[i.k as usize] = a,
                BPF_STX => mem[i.k as usize] = x,
                BPF_ALU => {
                    a = match i.code & 0xf0 {
                        0x00 => a.wrapping_add(src),
                        0x10 => a.wrapping_sub(src),
                        0x20 => a.wrapping_mul(src),
                        0x30 => a / src,
                        0x40 => a | src,
                        0x50 => a & src,
                        0x60 => a.wrapping_shl(src),
                        0x70 => a.wrapping_shr(src),
                        0x80 => a.wrapping_neg(),
                        0x90 => a % src,
                        0xa0 => a ^ src,
                        op => panic!("unsupported alu op {op:#x}"),
                    }
                }
                BPF_JMP => {
                    let op = i.code & 0xf0;
                    if op == BPF_JA {
                        pc += i.k as usize;
                        continue;
                    }
                    let taken = match op {
                        BPF_JEQ => a == src,
                        BPF_JGT => a > src,
                        BPF_JGE => a >= src,
                        BPF_JSET => a & src != 0,
                        _ => panic!("unsupported jump {op:#x}"),
                    };
                    pc += usize::from(if taken { i.jt } else { i.jf });
                }
                BPF_RET => return if i.code & BPF_A != 0 { a } else { i.k },
                BPF_MISC => {
                    if i.code & 0xf8 == 0 {
                        x = a
                    } else {
                        a = x
                    }
                }
                _ => unreachable!(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_host_order() {
        let prog = [
            Insn::load_abs(4),
            Insn::jump_if(BPF_JEQ, 0xc000_003e, 1, 0),
            Insn::ret(0),
        ];
        let mut bytes = Vec::new();
        for i in prog {
            bytes.extend_from_slice(&i.code.to_ne_bytes());
            bytes.extend_from_slice(&[i.jt, i.jf]);
            bytes.extend_from_slice(&i.k.to_ne_bytes());
        }
        assert_eq!(parse(&bytes).unwrap(), prog);
        assert!(parse(&bytes[..7]).is_err());
    }

    #[test]
    fn interpreter_follows_jumps() {
        let prog = [
            Insn::load_abs(SECCOMP_DATA_NR),
            Insn::jump_if(BPF_JGT, 10, 0, 1),
            Insn::ret(1),
            Insn::ret(2),
        ];
        let run = |nr| {
            interp::run(
                &prog,
                &interp::Data {
                    nr,
                    ..Default::default()
                },
            )
        };
        assert_eq!(run(11), 1);
        assert_eq!(run(10), 2);
    }
}
