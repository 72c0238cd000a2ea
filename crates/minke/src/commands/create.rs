use anyhow::{Context, Result};
use libcontainer::{CreateRequest, Runtime};

use crate::cli::CreateArgs;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &CreateArgs) -> Result<i32> {
    let rt = Runtime::new(&ctx.root);
    let req = CreateRequest {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        options: super::create_options(a),
        keep_fds: ctx.keep_fds(),
    };
    let (_, warnings) = rt.create(&req).context("minke create failed")?;
    for w in warnings {
        log::warn!("{w}");
    }
    Ok(0)
}
