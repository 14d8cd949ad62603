//! Reading definitions back from their bytes, beside [`dump`](crate::dump):
//! the frontend reads the definition BuildKit started it from, and keeps
//! protobuf out of its own code.

use prost::Message;

use crate::pb;

/// A marshalled definition, as bytes: what BuildKit writes to a frontend's
/// metadata, and what [`image_source`] reads.
pub fn to_bytes(def: &pb::Definition) -> Vec<u8> {
    def.encode_to_vec()
}

/// Why a definition could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a `pb.Definition`.
    #[error("is not a definition: {0}")]
    NotADefinition(String),
    /// No op of the definition is a `docker-image://` source.
    #[error("names no image")]
    NoImage,
}

/// The reference of the first `docker-image://` source op in a marshalled
/// definition, as written there (pinned, where BuildKit pinned it).
pub fn image_source(bytes: &[u8]) -> Result<String, DecodeError> {
    let def = pb::Definition::decode(bytes).map_err(|e| DecodeError::NotADefinition(e.to_string()))?;
    def.def
        .iter()
        .filter_map(|op| pb::Op::decode(op.as_slice()).ok())
        .find_map(|op| match op.op {
            Some(pb::op::Op::Source(src)) => src.identifier.strip_prefix("docker-image://").map(str::to_owned),
            _ => None,
        })
        .ok_or(DecodeError::NoImage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FileAction, Image, State};

    #[test]
    fn finds_the_pinned_image_of_a_frontend_definition() {
        let reference = format!("docker.io/aiges/envd-frontend:latest@sha256:{}", "a".repeat(64));
        let def = Image::new(&reference).into_state().marshal().unwrap().definition;
        assert_eq!(image_source(&to_bytes(&def)).unwrap(), reference);
    }

    #[test]
    fn a_definition_without_an_image_says_so() {
        let def = State::scratch()
            .file(vec![FileAction::mkfile("/x", "", 0o644)], Default::default())
            .marshal()
            .unwrap()
            .definition;
        assert_eq!(image_source(&to_bytes(&def)), Err(DecodeError::NoImage));
        assert!(matches!(image_source(b"\xff\xff"), Err(DecodeError::NotADefinition(_))));
    }
}
