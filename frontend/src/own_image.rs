//! Which image this frontend runs from, so that a build step can mount its
//! binary (the conda installer).
//!
//! BuildKit's gateway writes the definition it started the frontend from to
//! `/run/config/buildkit/metadata/frontend.bin`: one `docker-image://`
//! source, already resolved and pinned to its digest. That is the exact
//! image, however the frontend was named (`BUILDKIT_SYNTAX`, `# syntax=`,
//! bake, a tag that moved since), which the `source` option is not.

use envd_llb::pb;
use prost::Message;

/// Where BuildKit puts the frontend's definition.
pub const METADATA_PATH: &str = "/run/config/buildkit/metadata/frontend.bin";

/// The pinned image reference in a marshalled frontend definition.
pub fn from_definition(bytes: &[u8]) -> Result<String, String> {
    let def = pb::Definition::decode(bytes).map_err(|e| format!("{METADATA_PATH} is not a definition: {e}"))?;
    for op in &def.def {
        let Ok(op) = pb::Op::decode(op.as_slice()) else { continue };
        if let Some(pb::op::Op::Source(src)) = op.op {
            if let Some(reference) = src.identifier.strip_prefix("docker-image://") {
                return Ok(reference.to_owned());
            }
        }
    }
    Err(format!("{METADATA_PATH} names no image"))
}

/// The frontend's own image, or why it is not known.
pub fn detect() -> Result<String, String> {
    let bytes = std::fs::read(METADATA_PATH).map_err(|e| format!("cannot read {METADATA_PATH}: {e}"))?;
    from_definition(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use envd_llb::{Image, State};

    #[test]
    fn finds_the_pinned_image_of_a_frontend_definition() {
        let reference = format!("docker.io/aiges/envd-frontend:latest@sha256:{}", "a".repeat(64));
        let def = Image::new(&reference).into_state().marshal().unwrap().definition;
        assert_eq!(from_definition(&def.encode_to_vec()).unwrap(), reference);
    }

    #[test]
    fn a_definition_without_an_image_says_so() {
        let def = State::scratch()
            .file(vec![envd_llb::FileAction::mkfile("/x", "", 0o644)], Default::default())
            .marshal()
            .unwrap()
            .definition;
        assert_eq!(from_definition(&def.encode_to_vec()).unwrap_err(), format!("{METADATA_PATH} names no image"));
        assert!(from_definition(b"\xff\xff").unwrap_err().starts_with(&format!("{METADATA_PATH} is not a definition")));
    }
}
