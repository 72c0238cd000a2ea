//! Parses /proc/PID/mountinfo lines as the probe reports them.

use super::host::unescape;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub id: u32,
    pub parent: u32,
    pub root: String,
    pub mount_point: String,
    /// per-mount options (`rw,nosuid,relatime`)
    pub options: Vec<String>,
    /// optional fields (`shared:1`, `master:2`, `unbindable`)
    pub optional: Vec<String>,
    pub fstype: String,
    pub source: String,
    /// superblock options
    pub super_options: Vec<String>,
}

impl Mount {
    pub fn has(&self, opt: &str) -> bool {
        self.options.iter().any(|o| o == opt)
    }

    pub fn has_super(&self, opt: &str) -> bool {
        self.super_options.iter().any(|o| o == opt)
    }

    pub fn propagation(&self) -> &'static str {
        if self.optional.iter().any(|o| o.starts_with("shared:")) {
            "shared"
        } else if self.optional.iter().any(|o| o.starts_with("master:")) {
            "slave"
        } else if self.optional.iter().any(|o| o == "unbindable") {
            "unbindable"
        } else {
            "private"
        }
    }
}

pub fn parse_line(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let l: Vec<&str> = left.split(' ').collect();
    let r: Vec<&str> = right.split(' ').collect();
    if l.len() < 6 || r.len() < 3 {
        return None;
    }
    Some(Mount {
        id: l[0].parse().ok()?,
        parent: l[1].parse().ok()?,
        root: unescape(l[3]),
        mount_point: unescape(l[4]),
        options: l[5].split(',').map(str::to_string).collect(),
        optional: l[6..].iter().map(|s| s.to_string()).collect(),
        fstype: r[0].to_string(),
        source: unescape(r[1]),
        super_options: r[2].split(',').map(str::to_string).collect(),
    })
}

pub fn parse(lines: &[String]) -> Vec<Mount> {
    lines.iter().filter_map(|l| parse_line(l)).collect()
}

/// The mount visible at `mp` (the last one mounted there).
pub fn find<'a>(mounts: &'a [Mount], mp: &str) -> Option<&'a Mount> {
    mounts.iter().rev().find(|m| m.mount_point == mp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_optional_fields_and_options() {
        let m = parse_line(
            "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 shared:3 - ext3 /dev/root rw,errors=continue",
        )
        .unwrap();
        assert_eq!(m.mount_point, "/mnt/a b");
        assert_eq!(m.root, "/mnt1");
        assert!(m.has("noatime"));
        assert_eq!(m.optional, vec!["master:1", "shared:3"]);
        assert_eq!(m.propagation(), "shared");
        assert!(m.has_super("errors=continue"));
        let p = parse_line("1 0 0:1 / / ro - tmpfs none rw").unwrap();
        assert_eq!(p.propagation(), "private");
        assert!(p.has("ro"));
    }

    #[test]
    fn find_takes_the_topmost() {
        let v = parse(&[
            "1 0 0:1 / /a rw - tmpfs x rw".to_string(),
            "2 1 0:2 / /a ro - proc y rw".to_string(),
        ]);
        assert_eq!(find(&v, "/a").unwrap().fstype, "proc");
        assert!(find(&v, "/b").is_none());
    }
}
