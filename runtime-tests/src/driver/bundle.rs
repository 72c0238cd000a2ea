//! Bundles: a directory with config.json and a rootfs of busybox-static plus the probe.

use super::spec::AUTO_CGROUP;
use super::Ctx;
use anyhow::{Context, Result};
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Bundle {
    pub dir: PathBuf,
    pub id: String,
    /// the cgroupsPath the bundle's config holds, if any
    pub cgroups_path: Option<String>,
}

impl Bundle {
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// Rewrites config.json (used by tests that change it after create).
    pub fn write_config(&self, spec: &Value) -> Result<()> {
        fs::write(self.config_path(), serde_json::to_vec_pretty(spec)?)?;
        Ok(())
    }
}

fn mkdir_mode(p: &Path, mode: u32) -> Result<()> {
    fs::create_dir_all(p).with_context(|| format!("mkdir {}", p.display()))?;
    fs::set_permissions(p, fs::Permissions::from_mode(mode))?;
    Ok(())
}

/// Hard-links `src` to `dst` (same filesystem), else copies it.
fn link_or_copy(src: &Path, dst: &Path) -> Result<()> {
    if fs::hard_link(src, dst).is_err() {
        fs::copy(src, dst)
            .with_context(|| format!("copy {} to {}", src.display(), dst.display()))?;
    }
    Ok(())
}

/// Makes the per-run template binaries (`<work>/bin-template/{busybox,probe}`), so bundles can
/// hard-link them instead of copying megabytes per test.
pub fn prepare_template(work: &Path, busybox: &Path, probe: &Path) -> Result<PathBuf> {
    let t = work.join("bin-template");
    mkdir_mode(&t, 0o755)?;
    for (src, name) in [(busybox, "busybox"), (probe, "probe")] {
        let dst = t.join(name);
        fs::copy(src, &dst)
            .with_context(|| format!("copy {} to {}", src.display(), dst.display()))?;
        fs::set_permissions(&dst, fs::Permissions::from_mode(0o755))?;
    }
    Ok(t)
}

/// Builds a rootfs: busybox and its applet links in /bin, the probe, the usual empty dirs.
pub fn make_rootfs(rootfs: &Path, template: &Path, applets: &[String]) -> Result<()> {
    mkdir_mode(rootfs, 0o755)?;
    for d in [
        "bin", "dev", "proc", "sys", "etc", "root", "home", "mnt", "var", "run",
    ] {
        mkdir_mode(&rootfs.join(d), 0o755)?;
    }
    mkdir_mode(&rootfs.join("tmp"), 0o1777)?;
    let bin = rootfs.join("bin");
    link_or_copy(&template.join("busybox"), &bin.join("busybox"))?;
    link_or_copy(&template.join("probe"), &bin.join("probe"))?;
    for a in applets {
        let name = a.rsplit('/').next().unwrap_or(a);
        if name.is_empty() || name == "busybox" {
            continue;
        }
        let _ = std::os::unix::fs::symlink("busybox", bin.join(name));
    }
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    )?;
    fs::write(
        rootfs.join("etc/group"),
        "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
    )?;
    Ok(())
}

impl Ctx<'_> {
    /// A new bundle for `spec` with a fresh container id. `linux.cgroupsPath == "@auto"` becomes
    /// `/<run cgroup base>/<id>`.
    pub fn bundle(&self, spec: &Value) -> Result<Bundle> {
        let n = self.next();
        let id = format!("{}-{}", self.id_prefix, n);
        let dir = self.dir.join(format!("bundle{n}"));
        mkdir_mode(&dir, 0o755)?;
        make_rootfs(
            &dir.join("rootfs"),
            self.template,
            &self.host.busybox_applets,
        )?;
        let mut spec = spec.clone();
        let mut cgroups_path = spec
            .pointer("/linux/cgroupsPath")
            .and_then(Value::as_str)
            .map(str::to_string);
        if cgroups_path.as_deref() == Some(AUTO_CGROUP) {
            let p = format!("{}/{}", self.cgroup_base, id);
            spec["linux"]["cgroupsPath"] = Value::String(p.clone());
            cgroups_path = Some(p);
        }
        let b = Bundle {
            dir,
            id,
            cgroups_path,
        };
        b.write_config(&spec)?;
        Ok(b)
    }

    /// A bundle whose config.json is exactly `raw` (for unparsable configs).
    pub fn raw_bundle(&self, raw: &[u8]) -> Result<Bundle> {
        let b = self.bundle(&super::spec::base(&[]))?;
        fs::write(b.config_path(), raw)?;
        Ok(Bundle {
            cgroups_path: None,
            ..b
        })
    }
}
