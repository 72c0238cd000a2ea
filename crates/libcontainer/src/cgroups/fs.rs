//! Reading and writing cgroup interface files, with errors that say which file.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::CgroupError;

/// Writes `value` with a single write(2), as cgroup files expect one command per write.
pub(crate) fn write_raw(path: &Path, value: &str) -> io::Result<()> {
    let mut f = fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(path)?;
    f.write_all(value.as_bytes())
}

/// Writes a resource value; errors name the JSON field.
pub(crate) fn write_field(
    dir: &Path,
    file: &str,
    value: &str,
    field: &str,
) -> Result<(), CgroupError> {
    let path = dir.join(file);
    write_raw(&path, value).map_err(|source| CgroupError::Write {
        field: field.to_string(),
        path,
        value: value.to_string(),
        source,
    })
}

pub(crate) fn read_string(path: &Path) -> Result<String, CgroupError> {
    fs::read_to_string(path).map_err(|source| CgroupError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a file that may be absent (a controller feature this kernel lacks).
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, CgroupError> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CgroupError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn parse_err(path: &Path, reason: impl Into<String>) -> CgroupError {
    CgroupError::Parse {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Parses a single number; `max` (v2) reads as `u64::MAX`.
pub(crate) fn parse_u64(path: &Path, text: &str) -> Result<u64, CgroupError> {
    let t = text.trim();
    if t == "max" {
        return Ok(u64::MAX);
    }
    t.parse::<u64>()
        .map_err(|_| parse_err(path, format!("{t:?} is not a number")))
}

pub(crate) fn read_u64(path: &Path) -> Result<u64, CgroupError> {
    parse_u64(path, &read_string(path)?)
}

/// `read_u64` for a file that may be absent.
pub(crate) fn read_u64_optional(path: &Path) -> Result<Option<u64>, CgroupError> {
    read_optional(path)?
        .map(|t| parse_u64(path, &t))
        .transpose()
}

/// Parses `key value` lines (memory.stat, cpu.stat, memory.events, ...).
pub(crate) fn parse_flat_keyed(
    path: &Path,
    text: &str,
) -> Result<BTreeMap<String, u64>, CgroupError> {
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let mut it = line.split_whitespace();
        let (Some(k), Some(v), None) = (it.next(), it.next(), it.next()) else {
            return Err(parse_err(path, format!("malformed line {line:?}")));
        };
        out.insert(k.to_string(), parse_u64(path, v)?);
    }
    Ok(out)
}

pub(crate) fn read_flat_keyed(path: &Path) -> Result<BTreeMap<String, u64>, CgroupError> {
    parse_flat_keyed(path, &read_string(path)?)
}

/// Space-separated numbers on one line (cpuacct.usage_percpu).
pub(crate) fn parse_u64_list(path: &Path, text: &str) -> Result<Vec<u64>, CgroupError> {
    text.split_whitespace()
        .map(|v| parse_u64(path, v))
        .collect()
}

/// Parses a cpu or memory-node list such as `0-3,7`.
pub(crate) fn parse_id_list(text: &str) -> Option<Vec<u16>> {
    let t = text.trim();
    let mut out = Vec::new();
    if t.is_empty() {
        return Some(out);
    }
    for part in t.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u16, u16) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// All process ids in `dir` and the cgroups below it, sorted and without duplicates.
pub(crate) fn collect_pids(dir: &Path) -> Result<Vec<i32>, CgroupError> {
    let mut pids = Vec::new();
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let procs = d.join("cgroup.procs");
        let text = match fs::read_to_string(&procs) {
            Ok(t) => t,
            // A child cgroup removed while we walk is not an error.
            Err(e) if e.kind() == io::ErrorKind::NotFound && d != dir => continue,
            Err(source) => {
                return Err(CgroupError::Read {
                    path: procs,
                    source,
                })
            }
        };
        for l in text.lines().filter(|l| !l.trim().is_empty()) {
            pids.push(
                l.trim()
                    .parse::<i32>()
                    .map_err(|_| parse_err(&procs, format!("{l:?} is not a pid")))?,
            );
        }
        if let Ok(entries) = fs::read_dir(&d) {
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
            }
        }
    }
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_and_numbers() {
        let p = Path::new("/x/memory.events");
        let m = parse_flat_keyed(p, "low 0\nhigh 2\nmax 3\noom 1\noom_kill 1\n").unwrap();
        assert_eq!(m["oom_kill"], 1);
        assert!(parse_flat_keyed(p, "a b c\n").is_err());
        assert_eq!(parse_u64(p, "max\n").unwrap(), u64::MAX);
        assert!(parse_u64(p, "-1").is_err());
        assert_eq!(parse_u64_list(p, "1 2 3 \n").unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn id_lists() {
        assert_eq!(parse_id_list("0-3,7\n"), Some(vec![0, 1, 2, 3, 7]));
        assert_eq!(parse_id_list(""), Some(vec![]));
        assert_eq!(parse_id_list("3-1"), None);
        assert_eq!(parse_id_list("a"), None);
    }

    #[test]
    fn pids_are_collected_recursively() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("cgroup.procs"), "5\n3\n").unwrap();
        fs::create_dir(tmp.path().join("sub")).unwrap();
        fs::write(tmp.path().join("sub/cgroup.procs"), "9\n3\n").unwrap();
        assert_eq!(collect_pids(tmp.path()).unwrap(), vec![3, 5, 9]);
    }

    #[test]
    fn write_errors_name_the_field_and_missing_files() {
        let tmp = tempfile::tempdir().unwrap();
        let e = write_field(
            tmp.path(),
            "memory.swap.max",
            "0",
            "linux.resources.memory.swap",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("linux.resources.memory.swap: writing \"0\" to "),
            "{msg}"
        );
        assert!(
            msg.ends_with("(the file does not exist: not supported by this kernel or controller)"),
            "{msg}"
        );
        fs::write(tmp.path().join("pids.max"), "").unwrap();
        write_field(tmp.path(), "pids.max", "20", "linux.resources.pids.limit").unwrap();
        assert_eq!(
            fs::read_to_string(tmp.path().join("pids.max")).unwrap(),
            "20"
        );
    }
}
