//! A seccomp profile shaped like Docker's default, generated here rather than copied: the
//! default action refuses with EPERM, one rule allows every x86-64 syscall except a deny list of
//! the privileged ones (kernel modules, mounts, namespaces, clocks, keyrings, tracing, bpf …),
//! and a few rules compare arguments, as Docker's profile does, so that building the filter costs
//! a runtime what a real profile costs it.

use libseccomp::{ScmpArch, ScmpSyscall};
use serde_json::{json, Value};

/// Syscalls the profile leaves to the default action (EPERM). Chosen by what they do: loading
/// kernel code, changing the host (clocks, swap, reboot, quotas, accounting), mount and namespace
/// control, keyrings, process inspection and tracing, NUMA policy, obsolete or unimplemented
/// entry points. `clone`, `clone3`, `personality` and `socket` get their own rules below.
pub const DENIED: &[&str] = &[
    // kernel code and the machine
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "iopl",
    "ioperm",
    "vhangup",
    // clocks
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    // mounts and namespaces
    "mount",
    "umount2",
    "pivot_root",
    "unshare",
    "setns",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "open_by_handle_at",
    "name_to_handle_at",
    // keyrings
    "add_key",
    "request_key",
    "keyctl",
    // inspection, tracing, bpf
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "perf_event_open",
    "bpf",
    "userfaultfd",
    "lookup_dcookie",
    "fanotify_init",
    // NUMA memory policy
    "mbind",
    "set_mempolicy",
    "get_mempolicy",
    "move_pages",
    "set_mempolicy_home_node",
    // obsolete or unimplemented
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "nfsservctl",
    "afs_syscall",
    "tuxcall",
    "security",
    "getpmsg",
    "putpmsg",
    "vserver",
];

/// Syscalls with argument-dependent rules, kept out of the plain allow list.
pub const CONDITIONAL: &[&str] = &["clone", "clone3", "personality", "socket"];

/// The `CLONE_NEW*` flags: `clone` is allowed only without any of them.
pub const CLONE_NAMESPACE_FLAGS: u64 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// `personality(2)` values the profile allows: PER_LINUX, PER_LINUX32 and the query value.
pub const ALLOWED_PERSONALITIES: &[u64] = &[0x0, 0x8, 0xffff_ffff];

/// Names of all x86-64 syscalls this libseccomp knows, in number order.
pub fn x86_64_syscall_names() -> Vec<String> {
    (0..1024)
        .filter_map(|nr| ScmpSyscall::from(nr).get_name_by_arch(ScmpArch::X8664).ok())
        .collect()
}

/// The profile (an OCI `linux.seccomp` object) for the given list of known syscall names.
pub fn docker_like_profile(known: &[String]) -> Value {
    let allowed: Vec<&str> = known
        .iter()
        .map(String::as_str)
        .filter(|name| !DENIED.contains(name) && !CONDITIONAL.contains(name))
        .collect();
    let mut syscalls = vec![json!({ "names": allowed, "action": "SCMP_ACT_ALLOW" })];
    syscalls.push(json!({
        "names": ["clone"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{ "index": 0, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }]
    }));
    // glibc falls back to clone when clone3 fails with ENOSYS; clone3's flags live in memory
    // that seccomp cannot inspect, so the namespace check above would be bypassed otherwise.
    syscalls
        .push(json!({ "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOSYS }));
    for value in ALLOWED_PERSONALITIES {
        syscalls.push(json!({
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{ "index": 0, "value": value, "op": "SCMP_CMP_EQ" }]
        }));
    }
    syscalls.push(json!({
        "names": ["socket"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{ "index": 0, "value": libc::AF_VSOCK, "op": "SCMP_CMP_NE" }]
    }));
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": libc::EPERM,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed_names(profile: &Value) -> Vec<String> {
        profile["syscalls"][0]["names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn libseccomp_knows_the_common_syscalls() {
        let names = x86_64_syscall_names();
        for name in ["read", "write", "execve", "openat", "mount", "clone3"] {
            assert!(names.iter().any(|n| n == name), "{name} missing");
        }
        assert!(names.len() > 300, "{}", names.len());
    }

    #[test]
    fn allow_list_excludes_denied_and_conditional() {
        let known: Vec<String> = ["read", "mount", "execve", "clone", "ptrace", "openat"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let profile = docker_like_profile(&known);
        assert_eq!(allowed_names(&profile), vec!["read", "execve", "openat"]);
        assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(profile["defaultErrnoRet"], 1);
    }

    #[test]
    fn clone_rule_masks_the_namespace_flags() {
        let profile = docker_like_profile(&[]);
        let clone = &profile["syscalls"][1];
        assert_eq!(clone["names"][0], "clone");
        assert_eq!(clone["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        assert_eq!(clone["args"][0]["value"], 0x7e02_0000u64);
        assert_eq!(clone["args"][0]["valueTwo"], 0);
    }

    #[test]
    fn profile_is_a_valid_oci_seccomp_object() {
        let profile = docker_like_profile(&x86_64_syscall_names());
        let parsed: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(profile).unwrap();
        let syscalls = parsed.syscalls().as_ref().unwrap();
        assert_eq!(syscalls.len(), 1 + 1 + 1 + ALLOWED_PERSONALITIES.len() + 1);
        assert!(syscalls[0].names().iter().any(|n| n == "execve"));
        assert!(!syscalls[0].names().iter().any(|n| n == "mount"));
    }
}
