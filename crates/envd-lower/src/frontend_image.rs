//! The frontend's own image in a build step: its `/bin`, mounted
//! read-only, carries the tools a step runs that the base may lack (the
//! conda installer, `envd-frontend conda-install`, and uv). BuildKit names
//! the image, pinned by digest, in the frontend's metadata; nothing of it
//! stays in the image being built.

use envd_llb::{Image, Mount, ResolveMode};

use crate::ctx::Ctx;
use crate::well_known::INSTALLER_DIR;

/// `image`'s `/bin` at [`INSTALLER_DIR`], for `what` (the progress name),
/// from the image of [`LowerConfig::tools_platform`](crate::LowerConfig):
/// the builder's own platform, whatever the step's. The binaries are
/// static, so the host runs them natively even in a step of another
/// platform (an x86_64 conda installer in an arm64 step on an amd64
/// builder), where the step's own would run under emulation. Never the
/// running frontend's platform as such: the LLB must not depend on which
/// machine lowered it.
pub(crate) fn bin_mount(ctx: &Ctx, image: &str, what: &str) -> Mount {
    let frontend = Image::new(image)
        .platform(ctx.config.tools_platform.clone())
        .resolve_mode(ResolveMode::PreferLocal)
        .constraints(ctx.internal(&format!("{what} from {image}")))
        .into_state();
    Mount::Bind { dest: INSTALLER_DIR.into(), source: frontend, selector: "/bin".into(), readonly: true }
}
