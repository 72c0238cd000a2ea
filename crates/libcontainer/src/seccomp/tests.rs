//! End-to-end checks of `compile` without loading anything: the generated program is run in the
//! test BPF interpreter on synthetic `seccomp_data` (x86_64 numbers).
#![cfg(target_arch = "x86_64")]

use super::bpf::{interp, Insn};
use super::*;

const AMD64: u32 = 0xc000_003e;
const I386: u32 = 0x4000_0003;
const ALLOW: u32 = 0x7fff_0000;
const KILL_THREAD: u32 = 0;
const KILL_PROCESS: u32 = 0x8000_0000;
const TRAP: u32 = 0x0003_0000;
const LOG: u32 = 0x7ffc_0000;
const NOTIFY: u32 = 0x7fc0_0000;

fn errno(e: i32) -> u32 {
    0x0005_0000 | e as u32
}

fn trace(d: u32) -> u32 {
    0x7ff0_0000 | d
}

fn compile_json(json: &str) -> Filter {
    compile(&serde_json::from_str(json).expect("test profile parses")).expect("profile compiles")
}

fn decide(filter: &Filter, arch: u32, nr: i64, args: [u64; 6]) -> u32 {
    let prog: Vec<Insn> = filter
        .program
        .iter()
        .map(|r| Insn {
            code: r.code,
            jt: r.jt,
            jf: r.jf,
            k: r.k,
        })
        .collect();
    interp::run(
        &prog,
        &interp::Data {
            nr: nr as i32,
            arch,
            ip: 0,
            args,
        },
    )
}

fn native(filter: &Filter, nr: i64) -> u32 {
    decide(filter, AMD64, nr, [0; 6])
}

#[test]
fn every_action() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["getcwd"],"action":"SCMP_ACT_ERRNO","errnoRet":123},
            {"names":["chdir"],"action":"SCMP_ACT_ERRNO"},
            {"names":["fchdir"],"action":"SCMP_ACT_ERRNO","errnoRet":0},
            {"names":["umask"],"action":"SCMP_ACT_KILL"},
            {"names":["getppid"],"action":"SCMP_ACT_KILL_THREAD"},
            {"names":["getpgrp"],"action":"SCMP_ACT_KILL_PROCESS"},
            {"names":["uname"],"action":"SCMP_ACT_TRAP"},
            {"names":["sysinfo"],"action":"SCMP_ACT_TRACE","errnoRet":77},
            {"names":["times"],"action":"SCMP_ACT_TRACE"},
            {"names":["getuid"],"action":"SCMP_ACT_LOG"}]}"#,
    );
    assert_eq!(native(&f, libc::SYS_getcwd), errno(123));
    assert_eq!(native(&f, libc::SYS_chdir), errno(libc::EPERM));
    assert_eq!(native(&f, libc::SYS_fchdir), errno(0));
    assert_eq!(native(&f, libc::SYS_umask), KILL_THREAD);
    assert_eq!(native(&f, libc::SYS_getppid), KILL_THREAD);
    assert_eq!(native(&f, libc::SYS_getpgrp), KILL_PROCESS);
    assert_eq!(native(&f, libc::SYS_uname), TRAP);
    assert_eq!(native(&f, libc::SYS_sysinfo), trace(77));
    assert_eq!(native(&f, libc::SYS_times), trace(libc::EPERM as u32));
    assert_eq!(native(&f, libc::SYS_getuid), LOG);
    assert_eq!(native(&f, libc::SYS_read), ALLOW);
    assert!(!f.needs_listener());
}

#[test]
fn notify_rule_asks_for_a_listener() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/agent.sock",
            "syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#,
    );
    assert!(f.needs_listener());
    assert_eq!(f.flags & sys::FLAG_NEW_LISTENER, sys::FLAG_NEW_LISTENER);
    assert_eq!(native(&f, libc::SYS_mkdir), NOTIFY);
}

#[test]
fn default_errno_ret() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":95,
            "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(native(&f, libc::SYS_read), ALLOW);
    assert_eq!(native(&f, libc::SYS_getcwd), errno(95));
    // no architectures listed: no -ENOSYS prologue (runc 1.1.5), new syscalls get the default
    assert_eq!(native(&f, libc::SYS_openat2), errno(95));
}

#[test]
fn newer_syscalls_get_enosys_on_listed_architectures() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_KILL_PROCESS","architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86"],
            "syscalls":[{"names":["read","getppid","no_such_call"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(native(&f, libc::SYS_getppid), ALLOW);
    assert_eq!(native(&f, libc::SYS_getcwd), KILL_PROCESS); // below getppid (110)
    assert_eq!(native(&f, libc::SYS_getppid + 1), errno(libc::ENOSYS));
    assert_eq!(native(&f, libc::SYS_clone3), errno(libc::ENOSYS));
    // i386: read = 3, getppid = 64
    assert_eq!(decide(&f, I386, 64, [0; 6]), ALLOW);
    assert_eq!(decide(&f, I386, 63, [0; 6]), KILL_PROCESS);
    assert_eq!(decide(&f, I386, 65, [0; 6]), errno(libc::ENOSYS));
}

#[test]
fn added_architecture_gets_the_rules() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],
            "syscalls":[{"names":["getppid"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(decide(&f, I386, 64, [0; 6]), errno(libc::EPERM));
    assert_eq!(native(&f, libc::SYS_getppid), errno(libc::EPERM));
    // an architecture that is not in the filter gets libseccomp's bad-arch action (kill)
    let arm = 0x4000_0028;
    assert_eq!(decide(&f, arm, 64, [0; 6]), KILL_THREAD);
}

#[test]
fn unknown_names_are_ignored_and_the_rest_applies() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["minke_no_such_syscall","getcwd"],"action":"SCMP_ACT_ERRNO"}]}"#,
    );
    assert_eq!(native(&f, libc::SYS_getcwd), errno(libc::EPERM));
}

fn fcntl_with(op: &str, value: u64, value_two: u64) -> Filter {
    compile_json(&format!(
        r#"{{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{{"names":["fcntl"],"action":"SCMP_ACT_ERRNO",
            "errnoRet":200,"args":[{{"index":0,"value":{value},"valueTwo":{value_two},"op":"{op}"}}]}}]}}"#
    ))
}

fn matched(f: &Filter, fds: &[u64]) -> Vec<u64> {
    fds.iter()
        .copied()
        .filter(|&fd| decide(f, AMD64, libc::SYS_fcntl, [fd, 1, 0, 0, 0, 0]) == errno(200))
        .collect()
}

#[test]
fn every_operator() {
    let fds = [100, 101, 102];
    assert_eq!(
        matched(&fcntl_with("SCMP_CMP_NE", 101, 0), &fds),
        [100, 102]
    );
    assert_eq!(matched(&fcntl_with("SCMP_CMP_LT", 101, 0), &fds), [100]);
    assert_eq!(
        matched(&fcntl_with("SCMP_CMP_LE", 101, 0), &fds),
        [100, 101]
    );
    assert_eq!(matched(&fcntl_with("SCMP_CMP_EQ", 101, 0), &fds), [101]);
    assert_eq!(
        matched(&fcntl_with("SCMP_CMP_GE", 101, 0), &fds),
        [101, 102]
    );
    assert_eq!(matched(&fcntl_with("SCMP_CMP_GT", 101, 0), &fds), [102]);
    // (arg & 0xf0) == 0x60
    assert_eq!(
        matched(
            &fcntl_with("SCMP_CMP_MASKED_EQ", 0xf0, 0x60),
            &[0x5f, 0x60, 0x65, 0x6f, 0x70, 0x160]
        ),
        [0x60, 0x65, 0x6f, 0x160]
    );
    // 64-bit comparisons look at the high word too
    assert_eq!(
        matched(&fcntl_with("SCMP_CMP_EQ", 101, 0), &[(1 << 32) | 101]),
        Vec::<u64>::new()
    );
}

#[test]
fn conditions_on_different_arguments_are_anded() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["fcntl"],"action":"SCMP_ACT_ERRNO","errnoRet":200,
            "args":[{"index":0,"value":101,"op":"SCMP_CMP_EQ"},{"index":1,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    assert_eq!(native(&f, libc::SYS_fcntl,), ALLOW);
    assert_eq!(
        decide(&f, AMD64, libc::SYS_fcntl, [101, 1, 0, 0, 0, 0]),
        errno(200)
    );
    assert_eq!(
        decide(&f, AMD64, libc::SYS_fcntl, [101, 3, 0, 0, 0, 0]),
        ALLOW
    );
    assert_eq!(
        decide(&f, AMD64, libc::SYS_fcntl, [100, 1, 0, 0, 0, 0]),
        ALLOW
    );
}

#[test]
fn repeated_argument_index_is_ored_like_runc() {
    // runc turns each condition into its own rule as soon as one index repeats: fd >= 100 OR
    // fd <= 102 OR cmd == 1, i.e. everything here matches.
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["fcntl"],"action":"SCMP_ACT_ERRNO","errnoRet":200,
            "args":[{"index":0,"value":100,"op":"SCMP_CMP_GE"},{"index":0,"value":50,"op":"SCMP_CMP_LE"},
                    {"index":1,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#,
    );
    let d = |fd, cmd| decide(&f, AMD64, libc::SYS_fcntl, [fd, cmd, 0, 0, 0, 0]);
    assert_eq!(d(200, 3), errno(200));
    assert_eq!(d(10, 3), errno(200));
    assert_eq!(d(75, 1), errno(200));
    assert_eq!(d(75, 3), ALLOW);
}

#[test]
fn rule_equal_to_default_does_not_break_compilation() {
    let f = compile_json(
        r#"{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
            {"names":["getcwd"],"action":"SCMP_ACT_ERRNO"},
            {"names":["read"],"action":"SCMP_ACT_ALLOW"}]}"#,
    );
    assert_eq!(native(&f, libc::SYS_getcwd), errno(libc::EPERM));
    assert_eq!(native(&f, libc::SYS_read), ALLOW);
}

#[test]
fn large_profiles_compile_within_the_kernel_limit() {
    // every syscall libseccomp knows on x86_64 below 450, allowed with an argument condition
    let names: Vec<String> = (0..450)
        .filter_map(|nr| libseccomp::ScmpSyscall::from(nr).get_name().ok())
        .collect();
    assert!(names.len() > 300);
    let json = serde_json::json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"},
                     {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
                      "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]}]
    });
    let f = compile(&serde_json::from_value(json).unwrap()).unwrap();
    assert!(f.len() <= 4096, "{}", f.len());
    assert_eq!(native(&f, libc::SYS_read), ALLOW);
    assert_eq!(native(&f, 1000), errno(libc::ENOSYS));
}

#[test]
fn kernel_checks_name_the_field() {
    // an invalid profile is rejected before anything else
    let err = compile(
        &serde_json::from_str(r#"{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":1}"#).unwrap(),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("linux.seccomp.defaultErrnoRet: "),
        "{err}"
    );
}

#[test]
fn conflicting_rules_name_the_entry() {
    let err = compile(
        &serde_json::from_str(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"names":["getcwd"],"action":"SCMP_ACT_ERRNO"},
                {"names":["umask","getcwd"],"action":"SCMP_ACT_KILL_PROCESS"}]}"#,
        )
        .unwrap(),
    );
    match err {
        // libseccomp 2.5 keeps the first unconditional rule and rejects the second
        Err(e) => assert!(
            e.to_string()
                .starts_with("linux.seccomp.syscalls[1].names[1]: libseccomp rejected"),
            "{e}"
        ),
        Ok(f) => assert_ne!(native(&f, libc::SYS_getcwd), ALLOW),
    }
}
