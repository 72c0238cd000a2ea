use anyhow::Result;
use libcontainer::Runtime;

use crate::cli::DeleteArgs;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &DeleteArgs) -> Result<i32> {
    Runtime::new(&ctx.root).delete(&a.id, a.force)?;
    Ok(0)
}
