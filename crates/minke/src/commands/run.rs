use anyhow::{Context, Result};
use libcontainer::{CreateRequest, Runtime};

use crate::cli::RunArgs;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &RunArgs) -> Result<i32> {
    let rt = Runtime::new(&ctx.root);
    let req = CreateRequest {
        id: a.create.id.clone(),
        bundle: a.create.bundle.clone(),
        options: super::create_options(&a.create),
        keep_fds: ctx.keep_fds(),
    };
    let (status, warnings) =
        libcontainer::run::run(&rt, &req, a.detach, a.keep).context("minke run failed")?;
    for w in warnings {
        log::warn!("{w}");
    }
    Ok(status)
}
