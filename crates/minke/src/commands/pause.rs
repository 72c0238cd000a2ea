use anyhow::Result;
use libcontainer::Runtime;

use crate::cli::IdArg;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &IdArg) -> Result<i32> {
    Runtime::new(&ctx.root).pause(&a.id)?;
    Ok(0)
}
