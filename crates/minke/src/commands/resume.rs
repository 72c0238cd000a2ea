use anyhow::Result;
use libcontainer::Runtime;

use crate::cli::IdArg;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &IdArg) -> Result<i32> {
    Runtime::new(&ctx.root).resume(&a.id)?;
    Ok(0)
}
