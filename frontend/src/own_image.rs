//! Which image this frontend runs from, so that a build step can mount its
//! binary (the conda installer).
//!
//! BuildKit's gateway writes the definition it started the frontend from to
//! `/run/config/buildkit/metadata/frontend.bin`: one `docker-image://`
//! source, already resolved and pinned to its digest. That is the exact
//! image, however the frontend was named (`BUILDKIT_SYNTAX`, `# syntax=`,
//! bake, a tag that moved since), which the `source` option is not.

/// Where BuildKit puts the frontend's definition.
pub const METADATA_PATH: &str = "/run/config/buildkit/metadata/frontend.bin";

/// The frontend's own image, pinned, or why it is not known.
pub fn detect() -> Result<String, String> {
    let bytes = std::fs::read(METADATA_PATH).map_err(|e| format!("cannot read {METADATA_PATH}: {e}"))?;
    envd_llb::decode::image_source(&bytes).map_err(|e| format!("{METADATA_PATH} {e}"))
}
