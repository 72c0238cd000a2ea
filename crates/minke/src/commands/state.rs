use anyhow::Result;
use libcontainer::Runtime;

use crate::cli::IdArg;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &IdArg) -> Result<i32> {
    let report = Runtime::new(&ctx.root).state(&a.id)?;
    // runc prints the state indented, without a trailing newline.
    print!("{}", serde_json::to_string_pretty(&report)?);
    Ok(0)
}
