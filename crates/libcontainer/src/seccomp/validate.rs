//! Pure checks of `linux.seccomp`. Unknown action, operator, architecture and flag strings are
//! already rejected when `config.json` is parsed (they are enums in `oci-spec`); what is left here
//! are the rules between fields. Each check names the JSON path it rejects.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator,
};

use super::SeccompError;

/// Highest errno the kernel returns for `SECCOMP_RET_ERRNO` (`MAX_ERRNO`); larger values would be
/// silently clamped to it.
pub const MAX_ERRNO: u32 = 4095;
/// `SECCOMP_RET_DATA` is 16 bits: the largest value `SCMP_ACT_TRACE` can hand to the tracer.
pub const MAX_TRACE_DATA: u32 = 0xffff;
/// A syscall has at most six arguments.
pub const MAX_ARGS: usize = 6;
/// `sizeof(sockaddr_un.sun_path)`; the path also needs its terminating NUL.
const SUN_PATH_LEN: usize = 108;

/// Syscalls that may not use `SCMP_ACT_NOTIFY`: the init needs them, after the filter is loaded,
/// to hand the notify fd to the runtime (runc rejects `write` for the same reason; minke's init
/// passes the fd with `sendmsg`). A notification on them could never be answered.
pub const NOTIFY_FORBIDDEN: &[&str] = &["write", "sendmsg"];

type Check = fn(&LinuxSeccomp) -> Result<(), SeccompError>;

const CHECKS: &[Check] = &[default_action, architectures, flags, listener, syscalls];

/// Check `linux.seccomp` without touching the system. The first problem found is returned.
pub fn validate(seccomp: &LinuxSeccomp) -> Result<(), SeccompError> {
    CHECKS.iter().try_for_each(|check| check(seccomp))
}

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> SeccompError {
    SeccompError::Invalid {
        field: field.into(),
        reason: reason.into(),
    }
}

pub(crate) fn uses_errno_ret(action: LinuxSeccompAction) -> bool {
    matches!(
        action,
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
    )
}

fn errno_ret(
    field: &str,
    action: LinuxSeccompAction,
    value: Option<u32>,
) -> Result<(), SeccompError> {
    let Some(value) = value else { return Ok(()) };
    match action {
        LinuxSeccompAction::ScmpActErrno if value > MAX_ERRNO => Err(invalid(
            field,
            format!("{value} is larger than the largest errno ({MAX_ERRNO})"),
        )),
        LinuxSeccompAction::ScmpActTrace if value > MAX_TRACE_DATA => Err(invalid(
            field,
            format!("{value} does not fit the 16-bit value SCMP_ACT_TRACE passes to the tracer"),
        )),
        a if !uses_errno_ret(a) => Err(invalid(
            field,
            format!("only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not {a}"),
        )),
        _ => Ok(()),
    }
}

fn default_action(s: &LinuxSeccomp) -> Result<(), SeccompError> {
    if s.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(invalid(
            "linux.seccomp.defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action: the init could not hand the notify fd over",
        ));
    }
    errno_ret(
        "linux.seccomp.defaultErrnoRet",
        s.default_action(),
        s.default_errno_ret(),
    )
}

fn architectures(s: &LinuxSeccomp) -> Result<(), SeccompError> {
    for (i, arch) in s.architectures().iter().flatten().enumerate() {
        if *arch == Arch::ScmpArchNative {
            return Err(invalid(
                format!("linux.seccomp.architectures[{i}]"),
                "SCMP_ARCH_NATIVE is not an architecture of the runtime spec (the native one is always included)",
            ));
        }
    }
    Ok(())
}

fn uses_notify(s: &LinuxSeccomp) -> Option<usize> {
    s.syscalls()
        .iter()
        .flatten()
        .position(|c| c.action() == LinuxSeccompAction::ScmpActNotify)
}

fn flags(s: &LinuxSeccomp) -> Result<(), SeccompError> {
    for (i, flag) in s.flags().iter().flatten().enumerate() {
        if *flag == LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv
            && uses_notify(s).is_none()
        {
            return Err(invalid(
                format!("linux.seccomp.flags[{i}]"),
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV only applies to SCMP_ACT_NOTIFY rules and there are none",
            ));
        }
    }
    Ok(())
}

fn listener(s: &LinuxSeccomp) -> Result<(), SeccompError> {
    match (s.listener_path(), uses_notify(s)) {
        (None, Some(i)) => {
            return Err(invalid(
                "linux.seccomp.listenerPath",
                format!("required because linux.seccomp.syscalls[{i}] uses SCMP_ACT_NOTIFY"),
            ))
        }
        (Some(path), _) => {
            let bytes = path.as_os_str().len();
            if bytes == 0 {
                return Err(invalid("linux.seccomp.listenerPath", "must not be empty"));
            }
            if bytes >= SUN_PATH_LEN {
                return Err(invalid(
                    "linux.seccomp.listenerPath",
                    format!(
                        "{bytes} bytes is too long for a unix socket path (at most {})",
                        SUN_PATH_LEN - 1
                    ),
                ));
            }
            if path.as_os_str().as_encoded_bytes().contains(&0) {
                return Err(invalid(
                    "linux.seccomp.listenerPath",
                    "must not contain a NUL byte",
                ));
            }
        }
        (None, None) => {}
    }
    if s.listener_metadata().is_some() && s.listener_path().is_none() {
        return Err(invalid(
            "linux.seccomp.listenerMetadata",
            "must not be set without linux.seccomp.listenerPath",
        ));
    }
    Ok(())
}

fn syscalls(s: &LinuxSeccomp) -> Result<(), SeccompError> {
    for (i, call) in s.syscalls().iter().flatten().enumerate() {
        let at = format!("linux.seccomp.syscalls[{i}]");
        if call.names().is_empty() {
            return Err(invalid(
                format!("{at}.names"),
                "must contain at least one syscall name",
            ));
        }
        for (j, name) in call.names().iter().enumerate() {
            if name.is_empty() {
                return Err(invalid(
                    format!("{at}.names[{j}]"),
                    "empty string is not a syscall name",
                ));
            }
            if call.action() == LinuxSeccompAction::ScmpActNotify
                && NOTIFY_FORBIDDEN.contains(&name.as_str())
            {
                return Err(invalid(
                    format!("{at}.names[{j}]"),
                    format!("SCMP_ACT_NOTIFY cannot be used for {name:?}: the init needs it to hand the notify fd over"),
                ));
            }
        }
        errno_ret(&format!("{at}.errnoRet"), call.action(), call.errno_ret())?;
        for (k, arg) in call.args().iter().flatten().enumerate() {
            if arg.index() >= MAX_ARGS {
                return Err(invalid(
                    format!("{at}.args[{k}].index"),
                    format!(
                        "{} is out of range: syscalls have {MAX_ARGS} arguments (0-5)",
                        arg.index()
                    ),
                ));
            }
            if arg.op() != LinuxSeccompOperator::ScmpCmpMaskedEq
                && arg.value_two().unwrap_or(0) != 0
            {
                return Err(invalid(
                    format!("{at}.args[{k}].valueTwo"),
                    format!("only SCMP_CMP_MASKED_EQ uses valueTwo, not {}", arg.op()),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> LinuxSeccomp {
        serde_json::from_str(json).expect("test profile parses")
    }

    fn error(json: &str) -> String {
        validate(&parse(json))
            .expect_err("profile must be rejected")
            .to_string()
    }

    #[test]
    fn accepts_a_complete_profile() {
        let s = parse(
            r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":1,
                "architectures":["SCMP_ARCH_X86_64","SCMP_ARCH_X86","SCMP_ARCH_X32"],
                "flags":["SECCOMP_FILTER_FLAG_LOG","SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
                "listenerPath":"/run/agent.sock","listenerMetadata":"x",
                "syscalls":[
                  {"names":["read","getppid"],"action":"SCMP_ACT_ALLOW"},
                  {"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"},
                  {"names":["ptrace"],"action":"SCMP_ACT_TRACE","errnoRet":65535},
                  {"names":["no_such_syscall"],"action":"SCMP_ACT_ERRNO","errnoRet":4095,
                   "args":[{"index":5,"value":1,"valueTwo":0,"op":"SCMP_CMP_EQ"},
                           {"index":0,"value":255,"valueTwo":7,"op":"SCMP_CMP_MASKED_EQ"}]}]}"#,
        );
        validate(&s).unwrap();
    }

    #[test]
    fn errno_ret_only_with_errno_or_trace() {
        assert_eq!(
            error(r#"{"defaultAction":"SCMP_ACT_ALLOW","defaultErrnoRet":5}"#),
            "linux.seccomp.defaultErrnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not SCMP_ACT_ALLOW"
        );
        assert_eq!(
            error(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO"},
                    {"names":["b"],"action":"SCMP_ACT_KILL_PROCESS","errnoRet":1}]}"#
            ),
            "linux.seccomp.syscalls[1].errnoRet: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not SCMP_ACT_KILL_PROCESS"
        );
    }

    #[test]
    fn errno_ret_ranges() {
        assert!(
            error(r#"{"defaultAction":"SCMP_ACT_ERRNO","defaultErrnoRet":4096}"#).starts_with(
                "linux.seccomp.defaultErrnoRet: 4096 is larger than the largest errno"
            )
        );
        assert!(error(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_TRACE","errnoRet":65536}]}"#
        )
        .starts_with("linux.seccomp.syscalls[0].errnoRet: 65536 does not fit"));
    }

    #[test]
    fn notify_rules() {
        assert!(
            error(r#"{"defaultAction":"SCMP_ACT_NOTIFY","listenerPath":"/s"}"#).starts_with(
                "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action"
            )
        );
        assert_eq!(
            error(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_LOG"},
                    {"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]}"#
            ),
            "linux.seccomp.listenerPath: required because linux.seccomp.syscalls[1] uses SCMP_ACT_NOTIFY"
        );
        assert!(error(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/s",
                "syscalls":[{"names":["read","write"],"action":"SCMP_ACT_NOTIFY"}]}"#
        )
        .starts_with(
            "linux.seccomp.syscalls[0].names[1]: SCMP_ACT_NOTIFY cannot be used for \"write\""
        ));
        assert_eq!(
            error(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerMetadata":"m"}"#),
            "linux.seccomp.listenerMetadata: must not be set without linux.seccomp.listenerPath"
        );
        assert_eq!(
            error(r#"{"defaultAction":"SCMP_ACT_ALLOW","flags":["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}"#),
            "linux.seccomp.flags[0]: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV only applies to SCMP_ACT_NOTIFY rules and there are none"
        );
    }

    #[test]
    fn listener_path_without_notify_is_accepted_as_the_spec_says() {
        validate(&parse(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/s"}"#,
        ))
        .unwrap();
    }

    #[test]
    fn listener_path_shape() {
        let long = format!(
            r#"{{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/{}"}}"#,
            "a".repeat(107)
        );
        assert!(error(&long).starts_with("linux.seccomp.listenerPath: 108 bytes is too long"));
        assert_eq!(
            error(r#"{"defaultAction":"SCMP_ACT_ALLOW","listenerPath":""}"#),
            "linux.seccomp.listenerPath: must not be empty"
        );
    }

    #[test]
    fn names_and_args() {
        assert_eq!(
            error(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":[],"action":"SCMP_ACT_ERRNO"}]}"#
            ),
            "linux.seccomp.syscalls[0].names: must contain at least one syscall name"
        );
        assert_eq!(
            error(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a",""],"action":"SCMP_ACT_ERRNO"}]}"#
            ),
            "linux.seccomp.syscalls[0].names[1]: empty string is not a syscall name"
        );
        assert_eq!(
            error(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO",
                    "args":[{"index":0,"value":1,"op":"SCMP_CMP_EQ"},{"index":6,"value":1,"op":"SCMP_CMP_EQ"}]}]}"#
            ),
            "linux.seccomp.syscalls[0].args[1].index: 6 is out of range: syscalls have 6 arguments (0-5)"
        );
        assert_eq!(
            error(
                r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_ERRNO",
                    "args":[{"index":0,"value":1,"valueTwo":3,"op":"SCMP_CMP_GT"}]}]}"#
            ),
            "linux.seccomp.syscalls[0].args[0].valueTwo: only SCMP_CMP_MASKED_EQ uses valueTwo, not SCMP_CMP_GT"
        );
    }

    #[test]
    fn native_arch_is_not_a_spec_value() {
        assert!(error(
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_NATIVE"]}"#
        )
        .starts_with("linux.seccomp.architectures[0]: SCMP_ARCH_NATIVE"));
    }

    #[test]
    fn unknown_strings_fail_at_parse_time_with_the_path() {
        let json = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["a"],"action":"SCMP_ACT_BOGUS"}]}"#;
        let de = &mut serde_json::Deserializer::from_str(json);
        let err = serde_path_to_error::deserialize::<_, LinuxSeccomp>(de).unwrap_err();
        assert_eq!(err.path().to_string(), "syscalls[0].action");
    }
}
