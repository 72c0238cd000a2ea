//! Capabilities of the container process: names resolved to bit masks (pure), then applied in
//! the order the kernel needs (bounding set while still privileged; effective, permitted and
//! inheritable in one capset after the uid change; ambient last).

use std::str::FromStr;

use caps::{CapSet, Capability};

use crate::plan::CapsPlan;
use crate::sys;

/// The five sets as bit masks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapMasks {
    pub bounding: u64,
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
    pub ambient: u64,
}

/// Errors applying capabilities.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("process.capabilities: dropping {cap} from the bounding set")]
    Bounding {
        cap: String,
        #[source]
        source: caps::errors::CapsError,
    },
    #[error("process.capabilities: setting the effective, permitted and inheritable sets")]
    Capset(#[source] nix::errno::Errno),
    #[error("process.capabilities.ambient: raising {cap}")]
    Ambient {
        cap: String,
        #[source]
        source: caps::errors::CapsError,
    },
}

/// Turn names into masks, keeping only capabilities this kernel knows (`last_cap`); the names
/// it dropped are returned so the caller can warn, as runc does ("ignoring unknown or
/// unavailable capabilities").
pub fn resolve(plan: &CapsPlan, last_cap: u8) -> (CapMasks, Vec<String>) {
    let mut unknown = Vec::new();
    let mut mask = |names: &[String]| -> u64 {
        let mut m = 0u64;
        for n in names {
            match Capability::from_str(n) {
                Ok(c) if c.index() <= last_cap => m |= c.bitmask(),
                _ => {
                    if !unknown.contains(n) {
                        unknown.push(n.clone());
                    }
                }
            }
        }
        m
    };
    let masks = CapMasks {
        bounding: mask(&plan.bounding),
        effective: mask(&plan.effective),
        permitted: mask(&plan.permitted),
        inheritable: mask(&plan.inheritable),
        ambient: mask(&plan.ambient),
    };
    (masks, unknown)
}

/// The kernel only raises an ambient capability that is also permitted and inheritable; runc
/// leaves the others out. Do the same, returning their names so the caller can warn.
pub fn effective_ambient(masks: &mut CapMasks) -> Vec<String> {
    let allowed = masks.permitted & masks.inheritable;
    let dropped = masks.ambient & !allowed;
    masks.ambient &= allowed;
    caps::all()
        .into_iter()
        .filter(|c| dropped & c.bitmask() != 0)
        .map(|c| c.to_string())
        .collect()
}

/// The highest capability number this kernel supports.
pub fn last_cap() -> u8 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

/// Step 1, while still privileged: drop every capability not in `bounding` from the
/// bounding set.
pub fn drop_bounding(masks: &CapMasks, last_cap: u8) -> Result<(), CapsError> {
    for c in caps::all() {
        if c.index() > last_cap || masks.bounding & c.bitmask() != 0 {
            continue;
        }
        caps::drop(None, CapSet::Bounding, c).map_err(|source| CapsError::Bounding {
            cap: c.to_string(),
            source,
        })?;
    }
    Ok(())
}

/// Step 2, after the uid/gid change (with keepcaps): the three base sets at once, then ambient.
pub fn apply_sets(masks: &CapMasks, last_cap: u8) -> Result<(), CapsError> {
    sys::capset(masks.effective, masks.permitted, masks.inheritable).map_err(CapsError::Capset)?;
    if masks.ambient != 0 {
        for c in caps::all() {
            if c.index() > last_cap || masks.ambient & c.bitmask() == 0 {
                continue;
            }
            caps::raise(None, CapSet::Ambient, c).map_err(|source| CapsError::Ambient {
                cap: c.to_string(),
                source,
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_to_masks() {
        let plan = CapsPlan {
            bounding: vec!["CAP_CHOWN".into(), "CAP_KILL".into(), "CAP_FOO".into()],
            effective: vec!["CAP_KILL".into()],
            permitted: vec!["CAP_KILL".into()],
            inheritable: vec![],
            ambient: vec!["CAP_CHECKPOINT_RESTORE".into()],
        };
        let (m, unknown) = resolve(&plan, 40);
        assert_eq!(m.bounding, (1 << 0) | (1 << 5));
        assert_eq!(m.effective, 1 << 5);
        assert_eq!(m.ambient, 1 << 40);
        assert_eq!(unknown, vec!["CAP_FOO".to_string()]);
        // A kernel that stops at CAP_AUDIT_READ (37) does not know CAP_CHECKPOINT_RESTORE.
        let (m, unknown) = resolve(&plan, 37);
        assert_eq!(m.ambient, 0);
        assert!(unknown.contains(&"CAP_CHECKPOINT_RESTORE".to_string()));
    }

    #[test]
    fn ambient_needs_permitted_and_inheritable() {
        let mut m = CapMasks {
            permitted: 0b11,
            inheritable: 0b01,
            ambient: 0b11,
            ..Default::default()
        };
        let dropped = effective_ambient(&mut m);
        assert_eq!(m.ambient, 0b01);
        assert_eq!(dropped, vec!["CAP_DAC_OVERRIDE".to_string()]);
    }
}
