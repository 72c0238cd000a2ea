//! Device access rules: `linux.resources.devices` (plus the devices every container gets) →
//! one device policy, applied as v1 `devices.allow`/`devices.deny` writes or as a v2 eBPF
//! program ([`ebpf`]).
//!
//! The policy is the v1 kernel's model: a default (allow or deny) plus a list of exceptions
//! keyed by `(type, major, minor)`. Rules are applied in order to that model (the "emulator"),
//! so v1 and v2 enforce exactly the same thing:
//!
//! * a rule for all devices with all access (`type` `a` or absent, no major/minor, `rwm`)
//!   resets the policy to allow-all or deny-all;
//! * a rule that agrees with the default removes those access bits from every exception it
//!   covers; a rule that disagrees adds an exception;
//! * a rule that would have to cut a hole into a wider exception (deny `c 1:3 m` while
//!   `c *:* m` is allowed) cannot be expressed by the v1 kernel and is an error naming the rule.
//!
//! The devices runc allows by default, and the `linux.devices` the container gets, are allowed
//! at the start and again right after every deny-all rule, so rules that follow can still
//! deny them (runc appends them last, where they silently override a user's deny).

pub mod ebpf;

use std::fmt;

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};
use serde::{Deserialize, Serialize};

use super::CgroupError;

/// Character or block device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DeviceKind {
    #[serde(rename = "c")]
    Char,
    #[serde(rename = "b")]
    Block,
}

impl DeviceKind {
    fn letter(self) -> char {
        match self {
            DeviceKind::Char => 'c',
            DeviceKind::Block => 'b',
        }
    }
}

/// Access bits, numbered like the kernel's `BPF_DEVCG_ACC_*`.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Access(u8);

impl Access {
    pub const MKNOD: Access = Access(1);
    pub const READ: Access = Access(2);
    pub const WRITE: Access = Access(4);
    pub const ALL: Access = Access(7);
    pub const NONE: Access = Access(0);

    pub fn bits(self) -> u8 {
        self.0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn contains(self, other: Access) -> bool {
        self.0 & other.0 == other.0
    }
    pub fn intersects(self, other: Access) -> bool {
        self.0 & other.0 != 0
    }
    pub fn union(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }
    pub fn minus(self, other: Access) -> Access {
        Access(self.0 & !other.0)
    }

    /// Parses `rwm` letters in any order.
    pub fn parse(s: &str) -> Option<Access> {
        let mut a = Access::NONE;
        for c in s.chars() {
            a = a.union(match c {
                'r' => Access::READ,
                'w' => Access::WRITE,
                'm' => Access::MKNOD,
                _ => return None,
            });
        }
        Some(a)
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (bit, c) in [
            (Access::READ, 'r'),
            (Access::WRITE, 'w'),
            (Access::MKNOD, 'm'),
        ] {
            if self.contains(bit) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Which devices an exception is about; `None` is the `*` wildcard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct DeviceKey {
    pub kind: DeviceKind,
    pub major: Option<u32>,
    pub minor: Option<u32>,
}

impl DeviceKey {
    /// Whether every device this key names is also named by `self`.
    pub fn covers(&self, other: &DeviceKey) -> bool {
        self.kind == other.kind
            && (self.major.is_none() || self.major == other.major)
            && (self.minor.is_none() || self.minor == other.minor)
    }

    fn matches(&self, kind: DeviceKind, major: u32, minor: u32) -> bool {
        self.kind == kind
            && (self.major.is_none() || self.major == Some(major))
            && (self.minor.is_none() || self.minor == Some(minor))
    }
}

impl fmt::Display for DeviceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
        write!(
            f,
            "{} {}:{}",
            self.kind.letter(),
            num(self.major),
            num(self.minor)
        )
    }
}

/// One normalized rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeviceRule {
    /// All devices, all access: switch to allow-all or deny-all.
    Reset { allow: bool },
    /// An allow or deny of `access` on the devices named by `key`.
    Entry {
        allow: bool,
        key: DeviceKey,
        access: Access,
    },
}

/// A rule with the JSON field it came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcedRule {
    pub field: String,
    pub rule: DeviceRule,
}

/// One exception of a device policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exception {
    pub key: DeviceKey,
    pub access: Access,
}

/// A device policy: the default and the exceptions to it (sorted by key, no empty access).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevicePolicy {
    pub default_allow: bool,
    pub exceptions: Vec<Exception>,
}

impl Default for DevicePolicy {
    /// A new cgroup with no device rules: everything allowed.
    fn default() -> Self {
        DevicePolicy {
            default_allow: true,
            exceptions: Vec::new(),
        }
    }
}

/// The devices runc allows in every container (its `AllowedDevices`): mknod of any device and
/// /dev/null, zero, full, random, urandom, tty, ptmx, the pts devices and /dev/net/tun.
pub fn default_allowed() -> Vec<DeviceRule> {
    let c = |major: Option<u32>, minor: Option<u32>, access: Access| DeviceRule::Entry {
        allow: true,
        key: DeviceKey {
            kind: DeviceKind::Char,
            major,
            minor,
        },
        access,
    };
    vec![
        c(None, None, Access::MKNOD),
        DeviceRule::Entry {
            allow: true,
            key: DeviceKey {
                kind: DeviceKind::Block,
                major: None,
                minor: None,
            },
            access: Access::MKNOD,
        },
        c(Some(1), Some(3), Access::ALL),    // /dev/null
        c(Some(1), Some(8), Access::ALL),    // /dev/random
        c(Some(1), Some(7), Access::ALL),    // /dev/full
        c(Some(5), Some(0), Access::ALL),    // /dev/tty
        c(Some(1), Some(5), Access::ALL),    // /dev/zero
        c(Some(1), Some(9), Access::ALL),    // /dev/urandom
        c(Some(136), None, Access::ALL),     // /dev/pts/*
        c(Some(5), Some(2), Access::ALL),    // /dev/ptmx
        c(Some(10), Some(200), Access::ALL), // /dev/net/tun
    ]
}

fn device_number(field: &str, n: Option<i64>) -> Result<Option<u32>, CgroupError> {
    match n {
        None => Ok(None),
        Some(n) if (0..=i64::from(i32::MAX)).contains(&n) => Ok(Some(n as u32)),
        Some(n) => Err(CgroupError::invalid(
            field,
            format!("{n} is not a device number (0 to 2147483647)"),
        )),
    }
}

/// Normalizes `linux.resources.devices[i]`.
pub fn rule_from_spec(index: usize, d: &LinuxDeviceCgroup) -> Result<DeviceRule, CgroupError> {
    let base = format!("linux.resources.devices[{index}]");
    let access_field = format!("{base}.access");
    let access = match d.access().as_deref() {
        None | Some("") => {
            return Err(CgroupError::invalid(
                access_field,
                "must not be empty (use a combination of r, w, m)",
            ))
        }
        Some(s) => Access::parse(s).ok_or_else(|| {
            CgroupError::invalid(
                &access_field,
                format!("{s:?} is not a combination of r, w, m"),
            )
        })?,
    };
    let major = device_number(&format!("{base}.major"), d.major())?;
    let minor = device_number(&format!("{base}.minor"), d.minor())?;
    let kind = match d.typ().unwrap_or(LinuxDeviceType::A) {
        LinuxDeviceType::A => {
            if major.is_some() || minor.is_some() || access != Access::ALL {
                return Err(CgroupError::invalid(
                    format!("{base}.type"),
                    "a rule for all device types must cover all devices (no major/minor) and access rwm",
                ));
            }
            return Ok(DeviceRule::Reset { allow: d.allow() });
        }
        LinuxDeviceType::C | LinuxDeviceType::U => DeviceKind::Char,
        LinuxDeviceType::B => DeviceKind::Block,
        LinuxDeviceType::P => {
            return Err(CgroupError::invalid(
                format!("{base}.type"),
                "fifos are not governed by the device cgroup (use a, b or c)",
            ))
        }
    };
    Ok(DeviceRule::Entry {
        allow: d.allow(),
        key: DeviceKey { kind, major, minor },
        access,
    })
}

/// The full ordered rule list: `base` (defaults and `linux.devices`) first and again after every
/// deny-all rule, the user's rules in between.
pub fn assemble(user: &[SourcedRule], base: &[SourcedRule]) -> Vec<SourcedRule> {
    let mut out: Vec<SourcedRule> = base.to_vec();
    for r in user {
        out.push(r.clone());
        if r.rule == (DeviceRule::Reset { allow: false }) {
            out.extend(base.iter().cloned());
        }
    }
    out
}

impl DevicePolicy {
    /// Applies rules in order, starting from the policy a new cgroup has.
    pub fn from_rules(rules: &[SourcedRule]) -> Result<DevicePolicy, CgroupError> {
        let mut p = DevicePolicy::default();
        for r in rules {
            p.apply(r)?;
        }
        Ok(p)
    }

    fn apply(&mut self, r: &SourcedRule) -> Result<(), CgroupError> {
        match r.rule {
            DeviceRule::Reset { allow } => {
                self.default_allow = allow;
                self.exceptions.clear();
            }
            DeviceRule::Entry { access, .. } if access.is_empty() => {}
            DeviceRule::Entry { allow, key, access } => {
                if allow == self.default_allow {
                    self.remove(&r.field, allow, key, access)?;
                } else {
                    self.add(key, access);
                }
            }
        }
        Ok(())
    }

    fn add(&mut self, key: DeviceKey, access: Access) {
        match self.exceptions.iter_mut().find(|e| e.key == key) {
            Some(e) => e.access = e.access.union(access),
            None => {
                self.exceptions.push(Exception { key, access });
                self.exceptions.sort_by_key(|e| e.key);
            }
        }
    }

    fn remove(
        &mut self,
        field: &str,
        allow: bool,
        key: DeviceKey,
        access: Access,
    ) -> Result<(), CgroupError> {
        if let Some(wider) = self
            .exceptions
            .iter()
            .find(|e| e.key != key && e.key.covers(&key) && e.access.intersects(access))
        {
            let (verb, other) = if allow {
                ("allow", "denied")
            } else {
                ("deny", "allowed")
            };
            let narrowed = access.minus(wider.access);
            let hint = if narrowed.is_empty() {
                String::new()
            } else {
                format!(" (narrow the access to {narrowed})")
            };
            return Err(CgroupError::invalid(
                field,
                format!(
                    "cannot {verb} {key} {access} while {} {} is {other}: the device cgroup cannot \
                     cut a hole into a wider rule{hint}",
                    wider.key, wider.access
                ),
            ));
        }
        for e in self.exceptions.iter_mut().filter(|e| key.covers(&e.key)) {
            e.access = e.access.minus(access);
        }
        self.exceptions.retain(|e| !e.access.is_empty());
        Ok(())
    }

    /// Whether the kernel (v1) would allow `access` to the device: in deny-by-default mode one
    /// exception must grant all of it, in allow-by-default mode no exception may deny any of it.
    pub fn allows(&self, kind: DeviceKind, major: u32, minor: u32, access: Access) -> bool {
        let mut matching = self
            .exceptions
            .iter()
            .filter(|e| e.key.matches(kind, major, minor));
        if self.default_allow {
            !matching.any(|e| e.access.intersects(access))
        } else {
            matching.any(|e| e.access.contains(access))
        }
    }

    /// Reads a v1 `devices.list`. In allow-by-default mode the kernel lists only `a *:* rwm`
    /// and hides its deny exceptions, so such a policy reads as plain allow-all.
    pub fn from_devices_list(text: &str) -> Result<DevicePolicy, String> {
        let mut p = DevicePolicy {
            default_allow: false,
            exceptions: Vec::new(),
        };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let mut f = line.split_whitespace();
            let (Some(t), Some(num), Some(acc), None) = (f.next(), f.next(), f.next(), f.next())
            else {
                return Err(format!("malformed line {line:?}"));
            };
            let access = Access::parse(acc).ok_or_else(|| format!("bad access in {line:?}"))?;
            let kind = match t {
                "a" => return Ok(DevicePolicy::default()),
                "c" => DeviceKind::Char,
                "b" => DeviceKind::Block,
                _ => return Err(format!("bad type in {line:?}")),
            };
            let (maj, min) = num
                .split_once(':')
                .ok_or_else(|| format!("bad numbers in {line:?}"))?;
            let parse = |s: &str| -> Result<Option<u32>, String> {
                if s == "*" {
                    Ok(None)
                } else {
                    s.parse()
                        .map(Some)
                        .map_err(|_| format!("bad number in {line:?}"))
                }
            };
            p.add(
                DeviceKey {
                    kind,
                    major: parse(maj)?,
                    minor: parse(min)?,
                },
                access,
            );
        }
        Ok(p)
    }

    /// The v1 writes that turn a cgroup at `current` into `self`, least disruptive first:
    /// a reset only when the default changes or `current` is allow-by-default (whose deny
    /// exceptions cannot be read back), then new grants before revocations.
    pub fn v1_transition(&self, current: &DevicePolicy) -> Vec<(&'static str, String)> {
        let (grant_file, revoke_file) = if self.default_allow {
            ("devices.deny", "devices.allow")
        } else {
            ("devices.allow", "devices.deny")
        };
        let mut writes = Vec::new();
        let old: &[Exception] =
            if current.default_allow || current.default_allow != self.default_allow {
                writes.push((
                    if self.default_allow {
                        "devices.allow"
                    } else {
                        "devices.deny"
                    },
                    "a".to_string(),
                ));
                &[]
            } else {
                &current.exceptions
            };
        let old_access = |key: &DeviceKey| {
            old.iter()
                .find(|e| e.key == *key)
                .map_or(Access::NONE, |e| e.access)
        };
        let new_access = |key: &DeviceKey| {
            self.exceptions
                .iter()
                .find(|e| e.key == *key)
                .map_or(Access::NONE, |e| e.access)
        };
        // An exception in the policy's sense is "the non-default"; adding one goes to the
        // grant file (devices.allow in deny-all mode), dropping one to the other file.
        for e in &self.exceptions {
            let gained = e.access.minus(old_access(&e.key));
            if !gained.is_empty() {
                writes.push((grant_file, format!("{} {}", e.key, gained)));
            }
        }
        for e in old {
            let dropped = e.access.minus(new_access(&e.key));
            if !dropped.is_empty() {
                writes.push((revoke_file, format!("{} {}", e.key, dropped)));
            }
        }
        writes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(rule: DeviceRule) -> SourcedRule {
        SourcedRule {
            field: "linux.resources.devices[9]".into(),
            rule,
        }
    }
    fn entry(
        allow: bool,
        kind: DeviceKind,
        major: Option<u32>,
        minor: Option<u32>,
        access: &str,
    ) -> DeviceRule {
        DeviceRule::Entry {
            allow,
            key: DeviceKey { kind, major, minor },
            access: Access::parse(access).unwrap(),
        }
    }
    fn base() -> Vec<SourcedRule> {
        default_allowed().into_iter().map(src).collect()
    }
    const C: DeviceKind = DeviceKind::Char;
    const B: DeviceKind = DeviceKind::Block;

    #[test]
    fn access_parse_and_display() {
        assert_eq!(Access::parse("mwr"), Some(Access::ALL));
        assert_eq!(Access::parse("rx"), None);
        assert_eq!(Access::ALL.to_string(), "rwm");
        assert_eq!(Access::parse("mr").unwrap().to_string(), "rm");
    }

    #[test]
    fn spec_rules_are_normalized_with_field_names() {
        let d: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow": false, "access": "rwm"}"#).unwrap();
        assert_eq!(
            rule_from_spec(0, &d).unwrap(),
            DeviceRule::Reset { allow: false }
        );
        let d: LinuxDeviceCgroup = serde_json::from_str(
            r#"{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rw"}"#,
        )
        .unwrap();
        assert_eq!(
            rule_from_spec(1, &d).unwrap(),
            entry(true, C, Some(1), Some(3), "rw")
        );
        let d: LinuxDeviceCgroup = serde_json::from_str(r#"{"allow": true, "type": "c"}"#).unwrap();
        assert_eq!(
            rule_from_spec(2, &d).unwrap_err().to_string(),
            "linux.resources.devices[2].access: must not be empty (use a combination of r, w, m)"
        );
        let d: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow": true, "type": "c", "major": -1, "access": "r"}"#)
                .unwrap();
        assert!(rule_from_spec(3, &d)
            .unwrap_err()
            .to_string()
            .starts_with("linux.resources.devices[3].major: "));
        let d: LinuxDeviceCgroup =
            serde_json::from_str(r#"{"allow": false, "type": "a", "major": 1, "access": "rwm"}"#)
                .unwrap();
        assert!(rule_from_spec(4, &d)
            .unwrap_err()
            .to_string()
            .starts_with("linux.resources.devices[4].type: "));
    }

    #[test]
    fn deny_all_then_defaults_then_user_deny_of_null() {
        let user = vec![
            src(DeviceRule::Reset { allow: false }),
            src(entry(false, C, Some(1), Some(3), "rw")),
        ];
        let p = DevicePolicy::from_rules(&assemble(&user, &base())).unwrap();
        assert!(!p.default_allow);
        assert!(!p.allows(C, 1, 3, Access::READ));
        assert!(p.allows(C, 1, 3, Access::MKNOD)); // c *:* m stays
        assert!(p.allows(C, 1, 5, Access::READ.union(Access::WRITE)));
        assert!(p.allows(C, 136, 7, Access::WRITE));
        assert!(!p.allows(B, 8, 0, Access::READ));
        assert!(p.allows(B, 8, 0, Access::MKNOD));
    }

    #[test]
    fn punching_a_hole_into_a_wildcard_is_an_error() {
        let user = vec![
            src(DeviceRule::Reset { allow: false }),
            src(entry(false, C, Some(1), Some(3), "rwm")),
        ];
        let e = DevicePolicy::from_rules(&assemble(&user, &base()))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "linux.resources.devices[9]: cannot deny c 1:3 rwm while c *:* m is allowed"
            ),
            "{e}"
        );
    }

    #[test]
    fn a_wide_deny_removes_narrower_grants() {
        let user = vec![
            src(DeviceRule::Reset { allow: false }),
            src(entry(true, C, Some(4), Some(1), "rw")),
            src(entry(true, C, Some(4), Some(2), "rw")),
            src(entry(false, C, Some(4), None, "w")),
        ];
        let p = DevicePolicy::from_rules(&user).unwrap();
        assert!(p.allows(C, 4, 1, Access::READ));
        assert!(!p.allows(C, 4, 2, Access::WRITE));
    }

    #[test]
    fn allow_by_default_with_deny_exceptions() {
        let user = vec![src(entry(false, C, Some(1), Some(3), "rwm"))];
        let p = DevicePolicy::from_rules(&assemble(&user, &base())).unwrap();
        assert!(p.default_allow);
        assert!(!p.allows(C, 1, 3, Access::READ));
        assert!(!p.allows(C, 1, 3, Access::MKNOD));
        assert!(p.allows(C, 1, 5, Access::READ));
        assert!(p.allows(B, 8, 0, Access::ALL));
    }

    #[test]
    fn kernel_whitelist_needs_one_exception_with_all_bits() {
        let user = vec![
            src(DeviceRule::Reset { allow: false }),
            src(entry(true, C, Some(4), Some(1), "r")),
            src(entry(true, C, Some(4), None, "w")),
        ];
        let p = DevicePolicy::from_rules(&user).unwrap();
        assert!(p.allows(C, 4, 1, Access::READ));
        assert!(p.allows(C, 4, 1, Access::WRITE));
        assert!(!p.allows(C, 4, 1, Access::READ.union(Access::WRITE)));
    }

    #[test]
    fn devices_list_round_trip_and_transition() {
        let listed = "c 1:3 rwm\nc 136:* rwm\nb *:* m\n";
        let cur = DevicePolicy::from_devices_list(listed).unwrap();
        assert!(!cur.default_allow);
        assert_eq!(cur.exceptions.len(), 3);
        assert_eq!(
            DevicePolicy::from_devices_list("a *:* rwm\n").unwrap(),
            DevicePolicy::default()
        );
        assert!(DevicePolicy::from_devices_list("x 1:2 r").is_err());

        // Same default: only the difference is written, grants first.
        let target = DevicePolicy {
            default_allow: false,
            exceptions: vec![
                Exception {
                    key: DeviceKey {
                        kind: B,
                        major: None,
                        minor: None,
                    },
                    access: Access::MKNOD,
                },
                Exception {
                    key: DeviceKey {
                        kind: C,
                        major: Some(1),
                        minor: Some(3),
                    },
                    access: Access::READ,
                },
                Exception {
                    key: DeviceKey {
                        kind: C,
                        major: Some(1),
                        minor: Some(5),
                    },
                    access: Access::ALL,
                },
            ],
        };
        assert_eq!(
            target.v1_transition(&cur),
            vec![
                ("devices.allow", "c 1:5 rwm".to_string()),
                ("devices.deny", "c 1:3 wm".to_string()),
                ("devices.deny", "c 136:* rwm".to_string()),
            ]
        );
        // From allow-all: reset first, then every exception.
        let w = target.v1_transition(&DevicePolicy::default());
        assert_eq!(w[0], ("devices.deny", "a".to_string()));
        assert_eq!(w.len(), 4);
        // To allow-all with a deny exception.
        let t2 = DevicePolicy::from_rules(&[src(entry(false, C, Some(1), Some(3), "w"))]).unwrap();
        assert_eq!(
            t2.v1_transition(&cur),
            vec![
                ("devices.allow", "a".to_string()),
                ("devices.deny", "c 1:3 w".to_string())
            ]
        );
    }
}
