use anyhow::Result;
use libcontainer::Runtime;

use crate::cli::DeleteArgs;
use crate::Ctx;

pub fn run(ctx: &Ctx, a: &DeleteArgs) -> Result<i32> {
    match Runtime::new(&ctx.root).delete(&a.id, a.force) {
        // runc: `delete --force` of a container that is already gone succeeds (containerd's
        // shim calls it after every container).
        Err(libcontainer::Error::State(libcontainer::state::StateError::NotExist)) if a.force => {
            Ok(0)
        }
        other => other.map(|()| 0).map_err(Into::into),
    }
}
