//! The test registry: one static table per area, concatenated here. Test ids are the only
//! names; `-t` selects by exact id or prefix.

use super::requirements::Requirement;
use super::Ctx;
use anyhow::Result;

pub type TestFn = fn(&Ctx) -> Result<()>;

pub struct Test {
    /// `area.name`
    pub id: &'static str,
    pub requires: &'static [Requirement],
    pub run: TestFn,
}

impl Test {
    pub fn area(&self) -> &'static str {
        self.id.split('.').next().unwrap_or(self.id)
    }
}

/// Declares a table entry: `test!("area.name", [Root, ...], function)`.
#[macro_export]
macro_rules! test {
    ($id:literal, [$($req:expr),* $(,)?], $f:expr) => {
        $crate::driver::registry::Test { id: $id, requires: &[$($req),*], run: $f }
    };
}

/// Every test, in run order.
pub fn all() -> Vec<&'static Test> {
    use crate::tests::*;
    let tables: &[&'static [Test]] = &[
        lifecycle::TESTS,
        namespaces::TESTS,
        root::TESTS,
        mounts::TESTS,
        devices::TESTS,
        paths::TESTS,
        uts::TESTS,
        sysctl::TESTS,
        process::TESTS,
        caps::TESTS,
        rlimits::TESTS,
        hooks::TESTS,
        seccomp::TESTS,
        cgroups_v1::TESTS,
        cgroups_v2::TESTS,
        cgroups_common::TESTS,
        features::TESTS,
        bad_config::TESTS,
        cli::TESTS,
    ];
    tables.iter().flat_map(|t| t.iter()).collect()
}

/// Tests whose id equals or starts with one of `names` (all tests when `names` is empty).
pub fn select<'t>(tests: &[&'t Test], names: &[String]) -> Vec<&'t Test> {
    tests
        .iter()
        .copied()
        .filter(|t| {
            names.is_empty()
                || names
                    .iter()
                    .any(|n| t.id == n || t.id.starts_with(n.as_str()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn ids_are_unique_and_well_formed() {
        let mut seen = BTreeSet::new();
        for t in all() {
            assert!(seen.insert(t.id), "duplicate test id {}", t.id);
            assert!(t.id.contains('.'), "id {} has no area", t.id);
            assert!(
                t.id.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._".contains(c)),
                "id {} has odd characters",
                t.id
            );
        }
        assert!(seen.len() > 150, "only {} tests", seen.len());
    }

    #[test]
    fn select_by_exact_id_or_prefix() {
        let a = all();
        let one = select(&a, &["lifecycle.create_status_created".to_string()]);
        assert_eq!(one.len(), 1);
        let area = select(&a, &["lifecycle.".to_string()]);
        assert!(area.len() > 5 && area.iter().all(|t| t.area() == "lifecycle"));
        assert_eq!(select(&a, &[]).len(), a.len());
    }
}
