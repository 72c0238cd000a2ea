//! Expected-failures files: one per runtime (`runtime-tests/expected/<runtime>.txt`).
//!
//! Format: `#` comments and blank lines are ignored; every other line is
//! `TEST-ID [CONDITION] REASON`, where the optional CONDITION is `[v1]` or `[v2]` (the entry
//! only applies on a cgroup v1/hybrid or a unified host) and REASON says why it fails (a peer
//! bug with evidence, or a host limit).

use anyhow::{bail, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Always,
    V1,
    V2,
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub condition: Condition,
    pub reason: String,
    pub line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Expected {
    pub path: Option<PathBuf>,
    pub entries: BTreeMap<String, Vec<Entry>>,
}

pub fn parse(text: &str) -> Result<BTreeMap<String, Vec<Entry>>> {
    let mut m: BTreeMap<String, Vec<Entry>> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let mut rest = rest.trim();
        let mut condition = Condition::Always;
        for (tag, c) in [("[v1]", Condition::V1), ("[v2]", Condition::V2)] {
            if let Some(r) = rest.strip_prefix(tag) {
                condition = c;
                rest = r.trim();
            }
        }
        if rest.is_empty() {
            bail!("line {}: `{id}` has no reason", i + 1);
        }
        m.entry(id.to_string()).or_default().push(Entry {
            condition,
            reason: rest.to_string(),
            line: i + 1,
        });
    }
    Ok(m)
}

/// The default file for a runtime path: runc → runc.txt, crun/crun-v1 → crun.txt, else
/// `<basename>.txt`.
pub fn default_file(dir: &Path, runtime: &Path) -> PathBuf {
    let base = runtime
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = if base.starts_with("crun") {
        "crun".to_string()
    } else if base.starts_with("runc") {
        "runc".to_string()
    } else {
        base
    };
    dir.join(format!("{name}.txt"))
}

impl Expected {
    pub fn load(path: &Path) -> Result<Expected> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
        Ok(Expected {
            path: Some(path.to_path_buf()),
            entries: parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        })
    }

    /// The reason a test is expected to fail on this host, if it is.
    pub fn reason(&self, id: &str, v2_host: bool) -> Option<&str> {
        self.entries.get(id)?.iter().find_map(|e| {
            let applies = match e.condition {
                Condition::Always => true,
                Condition::V1 => !v2_host,
                Condition::V2 => v2_host,
            };
            applies.then_some(e.reason.as_str())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_conditions() {
        let m = parse("# c\n\na.b  some reason\nc.d [v2] only on v2\n").unwrap();
        assert_eq!(m["a.b"][0].reason, "some reason");
        assert_eq!(m["c.d"][0].condition, Condition::V2);
        let e = Expected {
            path: None,
            entries: m,
        };
        assert_eq!(e.reason("c.d", false), None);
        assert_eq!(e.reason("c.d", true), Some("only on v2"));
        assert_eq!(e.reason("a.b", false), Some("some reason"));
    }

    #[test]
    fn rejects_entries_without_reason() {
        assert!(parse("a.b\n").is_err());
    }

    #[test]
    fn picks_files_by_runtime_basename() {
        let d = Path::new("/x");
        assert_eq!(
            default_file(d, Path::new("/usr/bin/runc")),
            PathBuf::from("/x/runc.txt")
        );
        assert_eq!(
            default_file(d, Path::new("../shared/tools/crun-v1")),
            PathBuf::from("/x/crun.txt")
        );
        assert_eq!(
            default_file(d, Path::new("target/release/minke")),
            PathBuf::from("/x/minke.txt")
        );
    }
}
