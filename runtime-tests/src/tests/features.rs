//! features.md: the `features` command's output.

use super::*;
use crate::driver::registry::Test;
use crate::test;

pub const TESTS: &[Test] = &[
    test!("features.schema_valid", [], schema_valid),
    test!("features.oci_version_range", [], oci_version_range),
    test!("features.hooks_listed", [], hooks_listed),
    test!(
        "features.linux_namespaces_listed",
        [],
        linux_namespaces_listed
    ),
    test!("features.mount_options_listed", [], mount_options_listed),
];

/// Validates against a schema of the spec checkout.
pub fn validate(ctx: &Ctx, schema: &str, v: &Value) -> Result<Vec<String>> {
    crate::driver::schema::validate(ctx.spec_dir, schema, v)
}

fn features(ctx: &Ctx) -> Result<Value> {
    let o = ctx.exec(&["features"])?.check()?;
    serde_json::from_str(&o.stdout)
        .with_context(|| format!("features output is not JSON: {:?}", o.stdout))
}

fn schema_valid(ctx: &Ctx) -> Result<()> {
    let f = features(ctx)?;
    let errs = validate(ctx, "features-schema.json", &f)?;
    ensure!(
        errs.is_empty(),
        "features output does not match features-schema.json: {}",
        errs.join("; ")
    );
    Ok(())
}

fn semver(v: &str) -> Result<(u64, u64, u64)> {
    let core = v.split(['-', '+']).next().unwrap_or(v);
    let p: Vec<u64> = core
        .split('.')
        .map(|x| x.parse())
        .collect::<Result<_, _>>()
        .map_err(|_| anyhow!("{v:?} is not semver"))?;
    ensure!(p.len() == 3, "{v:?} is not semver");
    Ok((p[0], p[1], p[2]))
}

fn oci_version_range(ctx: &Ctx) -> Result<()> {
    let f = features(ctx)?;
    let min = semver(f["ociVersionMin"].as_str().unwrap_or_default())?;
    let max = semver(f["ociVersionMax"].as_str().unwrap_or_default())?;
    ensure!(min <= max, "ociVersionMin {min:?} > ociVersionMax {max:?}");
    ensure!(min.0 == 1, "ociVersionMin {min:?} is not a 1.x version");
    Ok(())
}

fn hooks_listed(ctx: &Ctx) -> Result<()> {
    let f = features(ctx)?;
    let hooks: Vec<&str> = f["hooks"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for h in [
        "prestart",
        "createRuntime",
        "createContainer",
        "startContainer",
        "poststart",
        "poststop",
    ] {
        ensure!(hooks.contains(&h), "features.hooks lacks {h}: {hooks:?}");
    }
    Ok(())
}

fn linux_namespaces_listed(ctx: &Ctx) -> Result<()> {
    let f = features(ctx)?;
    let ns: Vec<&str> = f["linux"]["namespaces"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for n in ["pid", "network", "ipc", "uts", "mount", "user", "cgroup"] {
        ensure!(
            ns.contains(&n),
            "features.linux.namespaces lacks {n}: {ns:?}"
        );
    }
    Ok(())
}

fn mount_options_listed(ctx: &Ctx) -> Result<()> {
    let f = features(ctx)?;
    let opts: Vec<&str> = f["mountOptions"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for o in [
        "ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec", "rprivate", "rslave", "rshared",
    ] {
        ensure!(opts.contains(&o), "features.mountOptions lacks {o}");
    }
    Ok(())
}
