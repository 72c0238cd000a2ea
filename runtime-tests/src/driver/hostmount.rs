//! Mounts a test makes on the host (a shared tmpfs source, a submount); each is unmounted
//! (lazily) when its guard drops, even if the test fails.

use anyhow::{Context, Result};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::{Path, PathBuf};

pub struct HostMount {
    target: PathBuf,
}

impl HostMount {
    /// Mounts a small tmpfs at `target` (which must exist).
    pub fn tmpfs(target: &Path) -> Result<HostMount> {
        mount(
            Some("tmpfs"),
            target,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=1m,mode=755"),
        )
        .with_context(|| format!("mounting a tmpfs on {}", target.display()))?;
        Ok(HostMount {
            target: target.to_path_buf(),
        })
    }

    /// Binds `target` onto itself and makes it a shared mount (its own peer group).
    pub fn shared_self_bind(target: &Path) -> Result<HostMount> {
        mount(
            Some(target),
            target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| format!("binding {} onto itself", target.display()))?;
        let g = HostMount {
            target: target.to_path_buf(),
        };
        mount(
            None::<&str>,
            target,
            None::<&str>,
            MsFlags::MS_SHARED | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| format!("making {} shared", target.display()))?;
        Ok(g)
    }

    pub fn path(&self) -> &Path {
        &self.target
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = umount2(&self.target, MntFlags::MNT_DETACH);
    }
}
