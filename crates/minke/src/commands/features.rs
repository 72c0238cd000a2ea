use anyhow::Result;

/// `features`: the runtime-spec features document, with minke's version and commit.
pub fn run() -> Result<i32> {
    let mut f = libcontainer::features::features();
    f.annotations
        .insert("minke.version".into(), env!("CARGO_PKG_VERSION").into());
    f.annotations
        .insert("minke.commit".into(), env!("MINKE_COMMIT").into());
    println!("{}", serde_json::to_string_pretty(&f)?);
    Ok(0)
}
