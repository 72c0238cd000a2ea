//! What `minke features` reports under `linux.seccomp`.

use libseccomp::ScmpFilterContext;
use oci_spec::runtime::{Arch, LinuxSeccompAction, LinuxSeccompFilterFlag, LinuxSeccompOperator};

use super::compile::scmp_arch;
use super::rules::flag_bits;
use crate::sys::seccomp as sys;

/// The `linux.seccomp` object of the features document.
pub type SeccompFeatures = oci_spec::runtime::Seccomp;

/// Every action minke recognises and implements.
pub const ACTIONS: [LinuxSeccompAction; 9] = [
    LinuxSeccompAction::ScmpActAllow,
    LinuxSeccompAction::ScmpActErrno,
    LinuxSeccompAction::ScmpActKill,
    LinuxSeccompAction::ScmpActKillProcess,
    LinuxSeccompAction::ScmpActKillThread,
    LinuxSeccompAction::ScmpActLog,
    LinuxSeccompAction::ScmpActNotify,
    LinuxSeccompAction::ScmpActTrace,
    LinuxSeccompAction::ScmpActTrap,
];

/// Every comparison operator.
pub const OPERATORS: [LinuxSeccompOperator; 7] = [
    LinuxSeccompOperator::ScmpCmpEq,
    LinuxSeccompOperator::ScmpCmpGe,
    LinuxSeccompOperator::ScmpCmpGt,
    LinuxSeccompOperator::ScmpCmpLe,
    LinuxSeccompOperator::ScmpCmpLt,
    LinuxSeccompOperator::ScmpCmpMaskedEq,
    LinuxSeccompOperator::ScmpCmpNe,
];

/// The architectures of the runtime spec (v1.3.0 lists libseccomp 2.6's).
pub const SPEC_ARCHES: [Arch; 23] = [
    Arch::ScmpArchAarch64,
    Arch::ScmpArchArm,
    Arch::ScmpArchLoongarch64,
    Arch::ScmpArchM68k,
    Arch::ScmpArchMips,
    Arch::ScmpArchMips64,
    Arch::ScmpArchMips64n32,
    Arch::ScmpArchMipsel,
    Arch::ScmpArchMipsel64,
    Arch::ScmpArchMipsel64n32,
    Arch::ScmpArchParisc,
    Arch::ScmpArchParisc64,
    Arch::ScmpArchPpc,
    Arch::ScmpArchPpc64,
    Arch::ScmpArchPpc64le,
    Arch::ScmpArchRiscv64,
    Arch::ScmpArchS390,
    Arch::ScmpArchS390x,
    Arch::ScmpArchSh,
    Arch::ScmpArchSheb,
    Arch::ScmpArchX32,
    Arch::ScmpArchX86,
    Arch::ScmpArchX86_64,
];

/// Every filter flag of the spec.
pub const FLAGS: [LinuxSeccompFilterFlag; 4] = [
    LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
    LinuxSeccompFilterFlag::SeccompFilterFlagLog,
    LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
    LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
];

/// Whether the running kernel accepts `flag`.
pub fn flag_supported(flag: LinuxSeccompFilterFlag) -> bool {
    let bits = flag_bits(flag);
    let probe = if bits == sys::FLAG_WAIT_KILLABLE_RECV {
        bits | sys::FLAG_NEW_LISTENER
    } else {
        bits
    };
    sys::filter_flags_supported(probe)
}

/// The architectures the linked libseccomp can put in a filter (2.5 lacks LoongArch, M68K, SH).
pub fn supported_arches() -> Vec<Arch> {
    let Ok(mut ctx) = ScmpFilterContext::new(libseccomp::ScmpAction::Allow) else {
        return Vec::new();
    };
    SPEC_ARCHES
        .into_iter()
        .filter(|a| ctx.add_arch(scmp_arch(*a)).is_ok())
        .collect()
}

/// `actions` and `operators`: all the spec's (the kernel of this host implements every action:
/// `compile` still checks each one used with `SECCOMP_GET_ACTION_AVAIL`); `archs`: those the
/// linked libseccomp supports; `knownFlags`: the spec's four; `supportedFlags`: those the running
/// kernel accepts (e.g. WAIT_KILLABLE_RECV needs Linux 5.19).
pub fn features() -> SeccompFeatures {
    let mut f = SeccompFeatures::default();
    f.set_enabled(Some(true))
        .set_actions(Some(ACTIONS.to_vec()))
        .set_operators(Some(OPERATORS.iter().map(ToString::to_string).collect()))
        .set_archs(Some(supported_arches()))
        .set_known_flags(Some(FLAGS.iter().map(ToString::to_string).collect()))
        .set_supported_flags(Some(
            FLAGS
                .iter()
                .filter(|f| flag_supported(**f))
                .map(ToString::to_string)
                .collect(),
        ));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_everything_this_host_supports() {
        let f = features();
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["enabled"], true);
        assert_eq!(json["actions"].as_array().unwrap().len(), 9);
        assert!(json["actions"]
            .as_array()
            .unwrap()
            .contains(&"SCMP_ACT_KILL_PROCESS".into()));
        assert_eq!(json["operators"].as_array().unwrap().len(), 7);
        assert!(json["operators"]
            .as_array()
            .unwrap()
            .contains(&"SCMP_CMP_MASKED_EQ".into()));
        assert_eq!(
            json["knownFlags"],
            serde_json::json!([
                "SECCOMP_FILTER_FLAG_TSYNC",
                "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
            ])
        );
        let archs = f.archs().clone().unwrap();
        assert!(archs.contains(&super::super::enosys::native_arch()));
        assert!(archs.contains(&Arch::ScmpArchX32) == cfg!(target_arch = "x86_64"));
    }

    #[test]
    fn supported_flags_follow_the_kernel() {
        // The hosts minke is tested on (6.x kernels) have all four.
        let release = nix::sys::utsname::uname().unwrap();
        let release = release.release().to_string_lossy().into_owned();
        let mut parts = release
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|p| p.parse::<u32>().ok());
        let version = (parts.next().unwrap(), parts.next().unwrap());
        let supported = features().supported_flags().clone().unwrap();
        assert_eq!(
            supported.contains(&"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV".to_string()),
            version >= (5, 19),
            "kernel {release}"
        );
        assert!(supported.contains(&"SECCOMP_FILTER_FLAG_TSYNC".to_string()));
    }
}
