//! The frontend's own image in a build step: its `/bin`, mounted
//! read-only, carries the tools a step runs that the base may lack (the
//! conda installer, `envd-frontend conda-install`, and uv). BuildKit names
//! the image, pinned by digest, in the frontend's metadata; nothing of it
//! stays in the image being built.

use envd_llb::{Image, Mount, Platform, ResolveMode};

use crate::ctx::Ctx;
use crate::well_known::INSTALLER_DIR;

/// `image`'s `/bin` at [`INSTALLER_DIR`], for `what` (the progress name).
/// The binaries are static x86_64 ones, whatever the build's platform: an
/// x86_64 host runs them natively in an arm64 step.
pub(crate) fn bin_mount(ctx: &Ctx, image: &str, what: &str) -> Mount {
    let frontend = Image::new(image)
        .platform(Platform::native())
        .resolve_mode(ResolveMode::PreferLocal)
        .constraints(ctx.internal(&format!("{what} from {image}")))
        .into_state();
    Mount::Bind { dest: INSTALLER_DIR.into(), source: frontend, selector: "/bin".into(), readonly: true }
}
