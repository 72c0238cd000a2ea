use anyhow::{anyhow, Result};
use libcontainer::Runtime;

use crate::cli::KillArgs;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &KillArgs) -> Result<i32> {
    let sig = crate::signals::parse(&a.signal).map_err(|e| anyhow!(e))?;
    Runtime::new(&ctx.root).kill(&a.id, sig, a.all)?;
    Ok(0)
}
