//! `kflc apply --backend kfp`: Kubeflow Pipelines over REST.

use crate::project::Loaded;
use crate::{ApplyArgs, Console};

pub async fn apply(_args: &ApplyArgs, _loaded: &Loaded, console: &mut Console<'_>) -> u8 {
    let _ = writeln!(console.err, "error: --backend kfp is not implemented yet");
    2
}
