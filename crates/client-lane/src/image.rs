//! The lane's image, made here from busybox-static (there is no registry): a rootfs directory,
//! its tar (what `podman import` takes and the image's one layer), and an OCI image layout
//! archive around that layer (what `ctr images import` takes).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::json;
use sha2::{Digest, Sha256};

pub const MEDIA_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A content-addressed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub media_type: &'static str,
    /// "sha256:<hex>"
    pub digest: String,
    pub size: u64,
}

impl Blob {
    pub fn of_bytes(media_type: &'static str, bytes: &[u8]) -> Blob {
        Blob {
            media_type,
            digest: format!("sha256:{}", hex(&Sha256::digest(bytes))),
            size: bytes.len() as u64,
        }
    }

    pub fn of_file(media_type: &'static str, path: &Path) -> Result<Blob> {
        let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut hasher = Sha256::new();
        let size = io::copy(&mut f, &mut hasher)?;
        Ok(Blob {
            media_type,
            digest: format!("sha256:{}", hex(&hasher.finalize())),
            size,
        })
    }

    /// The blob's path inside an image layout: `blobs/sha256/<hex>`.
    pub fn layout_path(&self) -> String {
        format!("blobs/{}", self.digest.replacen(':', "/", 1))
    }

    fn descriptor(&self) -> serde_json::Value {
        json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.size })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The image's GOARCH name for this machine.
pub fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The image config: one uncompressed layer (its diff id is its digest), `sh` by default.
pub fn config_json(layer: &Blob, arch: &str) -> Vec<u8> {
    let cfg = json!({
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["sh"],
            "WorkingDir": "/",
        },
        "rootfs": { "type": "layers", "diff_ids": [layer.digest] },
        "history": [{ "created_by": "minke client lane: busybox-static rootfs" }],
    });
    serde_json::to_vec(&cfg).expect("a json value serialises")
}

pub fn manifest_json(config: &Blob, layer: &Blob) -> Vec<u8> {
    let m = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": config.descriptor(),
        "layers": [layer.descriptor()],
    });
    serde_json::to_vec(&m).expect("a json value serialises")
}

/// `index.json`: one manifest, named for containerd (`io.containerd.image.name`) and by the
/// OCI ref-name annotation (the tag).
pub fn index_json(manifest: &Blob, image: &str) -> Vec<u8> {
    let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    let mut desc = manifest.descriptor();
    desc["annotations"] = json!({
        "io.containerd.image.name": image,
        "org.opencontainers.image.ref.name": tag,
    });
    let idx = json!({ "schemaVersion": 2, "manifests": [desc] });
    serde_json::to_vec(&idx).expect("a json value serialises")
}

/// Makes the rootfs in `dir`: busybox and its applet links in /bin, and the few files and
/// directories a container engine expects.
pub fn build_rootfs(busybox: &Path, dir: &Path) -> Result<()> {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin)?;
    fs::copy(busybox, bin.join("busybox"))
        .with_context(|| format!("copying {}", busybox.display()))?;
    fs::set_permissions(bin.join("busybox"), fs::Permissions::from_mode(0o755))?;
    let list = Command::new(busybox)
        .arg("--list")
        .output()
        .with_context(|| format!("running {} --list", busybox.display()))?;
    if !list.status.success() {
        bail!("{} --list failed: {}", busybox.display(), list.status);
    }
    for applet in String::from_utf8_lossy(&list.stdout).split_whitespace() {
        if applet != "busybox" && !applet.contains('/') {
            symlink("busybox", bin.join(applet))?;
        }
    }
    for d in ["etc", "proc", "sys", "dev", "run", "root", "var", "usr"] {
        fs::create_dir_all(dir.join(d))?;
    }
    let tmp = dir.join("tmp");
    fs::create_dir_all(&tmp)?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o1777))?;
    fs::write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )?;
    fs::write(dir.join("etc/group"), "root:x:0:\nnogroup:x:65534:\n")?;
    Ok(())
}

/// Writes `dir` as a tar (paths relative to `dir`, symlinks kept as links).
pub fn tar_dir(dir: &Path, out: &Path) -> Result<()> {
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut builder = tar::Builder::new(BufWriter::new(file));
    builder.follow_symlinks(false);
    builder
        .append_dir_all(".", dir)
        .with_context(|| format!("archiving {}", dir.display()))?;
    builder.into_inner()?.flush()?;
    Ok(())
}

/// What [`oci_archive`] made.
#[derive(Debug, Clone)]
pub struct OciArchive {
    pub path: PathBuf,
    pub manifest: Blob,
}

/// Writes an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`) as a tar at
/// `out`, with `layer_tar` as the only layer and `image` as its name.
pub fn oci_archive(layer_tar: &Path, image: &str, out: &Path) -> Result<OciArchive> {
    let layer = Blob::of_file(MEDIA_LAYER, layer_tar)?;
    let config_bytes = config_json(&layer, oci_arch());
    let config = Blob::of_bytes(MEDIA_CONFIG, &config_bytes);
    let manifest_bytes = manifest_json(&config, &layer);
    let manifest = Blob::of_bytes(MEDIA_MANIFEST, &manifest_bytes);
    let index = index_json(&manifest, image);

    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut builder = tar::Builder::new(BufWriter::new(file));
    append_bytes(
        &mut builder,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    append_bytes(&mut builder, "index.json", &index)?;
    append_bytes(&mut builder, &config.layout_path(), &config_bytes)?;
    append_bytes(&mut builder, &manifest.layout_path(), &manifest_bytes)?;
    let mut header = tar::Header::new_ustar();
    header.set_size(layer.size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    let layer_file = File::open(layer_tar)?;
    builder
        .append_data(
            &mut header,
            layer.layout_path(),
            layer_file.take(layer.size),
        )
        .context("adding the layer to the image archive")?;
    builder.into_inner()?.flush()?;
    Ok(OciArchive {
        path: out.to_path_buf(),
        manifest,
    })
}

fn append_bytes<W: Write>(builder: &mut tar::Builder<W>, path: &str, bytes: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder
        .append_data(&mut header, path, bytes)
        .with_context(|| format!("adding {path} to the image archive"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn blob_digest_is_the_sha256_of_the_bytes() {
        // sha256("abc"), a published test vector.
        let b = Blob::of_bytes(MEDIA_CONFIG, b"abc");
        assert_eq!(
            b.digest,
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(b.size, 3);
        assert_eq!(
            b.layout_path(),
            "blobs/sha256/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn config_manifest_and_index_point_at_each_other() {
        let layer = Blob::of_bytes(MEDIA_LAYER, b"layer");
        let cfg_bytes = config_json(&layer, "amd64");
        let cfg: Value = serde_json::from_slice(&cfg_bytes).unwrap();
        assert_eq!(cfg["rootfs"]["diff_ids"][0], layer.digest.as_str());
        assert_eq!(cfg["architecture"], "amd64");
        let config = Blob::of_bytes(MEDIA_CONFIG, &cfg_bytes);
        let man_bytes = manifest_json(&config, &layer);
        let man: Value = serde_json::from_slice(&man_bytes).unwrap();
        assert_eq!(man["config"]["digest"], config.digest.as_str());
        assert_eq!(man["config"]["size"], cfg_bytes.len());
        assert_eq!(man["layers"][0]["digest"], layer.digest.as_str());
        assert_eq!(man["layers"][0]["mediaType"], MEDIA_LAYER);
        let manifest = Blob::of_bytes(MEDIA_MANIFEST, &man_bytes);
        let idx: Value = serde_json::from_slice(&index_json(&manifest, "localhost/x:v1")).unwrap();
        let m = &idx["manifests"][0];
        assert_eq!(m["digest"], manifest.digest.as_str());
        assert_eq!(
            m["annotations"]["io.containerd.image.name"],
            "localhost/x:v1"
        );
        assert_eq!(m["annotations"]["org.opencontainers.image.ref.name"], "v1");
    }

    #[test]
    fn the_archive_holds_a_consistent_layout() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("rootfs");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("bin/tool"), "#!/bin/sh\n").unwrap();
        symlink("tool", root.join("bin/alias")).unwrap();
        let layer_tar = dir.path().join("layer.tar");
        tar_dir(&root, &layer_tar).unwrap();
        let out = dir.path().join("image.tar");
        let archive = oci_archive(&layer_tar, "localhost/t:latest", &out).unwrap();

        let mut entries = std::collections::BTreeMap::new();
        let mut ar = tar::Archive::new(File::open(&out).unwrap());
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut bytes = Vec::new();
            e.read_to_end(&mut bytes).unwrap();
            entries.insert(path, bytes);
        }
        let index: Value = serde_json::from_slice(&entries["index.json"]).unwrap();
        assert_eq!(
            index["manifests"][0]["digest"],
            archive.manifest.digest.as_str()
        );
        let man_bytes = &entries[&archive.manifest.layout_path()];
        assert_eq!(Blob::of_bytes(MEDIA_MANIFEST, man_bytes), archive.manifest);
        let man: Value = serde_json::from_slice(man_bytes).unwrap();
        for desc in [&man["config"], &man["layers"][0]] {
            let digest = desc["digest"].as_str().unwrap();
            let path = format!("blobs/{}", digest.replacen(':', "/", 1));
            let blob = &entries[&path];
            assert_eq!(blob.len() as u64, desc["size"].as_u64().unwrap());
            assert_eq!(Blob::of_bytes(MEDIA_LAYER, blob).digest, digest);
        }
        // The layer keeps the symlink as a link.
        let layer = &entries[&format!(
            "blobs/{}",
            man["layers"][0]["digest"]
                .as_str()
                .unwrap()
                .replacen(':', "/", 1)
        )];
        let mut inner = tar::Archive::new(&layer[..]);
        let link = inner
            .entries()
            .unwrap()
            .map(|e| e.unwrap())
            .find(|e| e.path().unwrap().ends_with("bin/alias"))
            .unwrap();
        assert_eq!(link.header().entry_type(), tar::EntryType::Symlink);
    }
}
