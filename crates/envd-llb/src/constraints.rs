//! Per-op options that are not part of the op itself: progress name,
//! cache control and where in the build file the op came from.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::pb;

/// The metadata key BuildKit shows as a step's progress name.
pub const CUSTOM_NAME: &str = "llb.customname";

/// A build file whose lines ops can point at. It is shared by reference:
/// the marshaller emits each distinct file once in `Source.infos`.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceMap {
    /// The name buildx prints, e.g. `build.envd`.
    pub filename: String,
    /// The whole file, so that buildx can print the offending lines.
    pub data: Vec<u8>,
    /// The language tag BuildKit passes along (informational).
    pub language: String,
}

impl SourceMap {
    /// A source map for `filename` holding `data`.
    pub fn new(filename: impl Into<String>, data: impl Into<Vec<u8>>, language: impl Into<String>) -> Arc<Self> {
        Arc::new(Self { filename: filename.into(), data: data.into(), language: language.into() })
    }

    /// The file as BuildKit's `SourceInfo`, for definitions and warnings.
    pub fn to_pb(&self) -> pb::SourceInfo {
        pb::SourceInfo {
            filename: self.filename.clone(),
            data: self.data.clone(),
            language: self.language.clone(),
            definition: None,
        }
    }

    /// A location in this file covering lines `start..=end` (1-based).
    pub fn location(self: &Arc<Self>, start_line: u32, end_line: u32) -> SourceLocation {
        SourceLocation { map: Arc::clone(self), start_line, end_line }
    }
}

/// A range of lines in a [`SourceMap`], 1-based and inclusive, as BuildKit's
/// `pb.Range` counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    /// The file.
    pub map: Arc<SourceMap>,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, 1-based, inclusive.
    pub end_line: u32,
}

/// Options every op carries besides its own fields.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Constraints {
    /// Free-form description; [`CUSTOM_NAME`] is the progress name.
    pub description: BTreeMap<String, String>,
    /// Run this op even if a cache record exists.
    pub ignore_cache: bool,
    /// Where the op came from in the build file.
    pub locations: Vec<SourceLocation>,
}

impl Constraints {
    /// Constraints with only a progress name.
    pub fn named(name: impl Into<String>) -> Self {
        let mut c = Self::default();
        c.description.insert(CUSTOM_NAME.to_owned(), name.into());
        c
    }

    /// Sets the progress name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.description.insert(CUSTOM_NAME.to_owned(), name.into());
        self
    }

    /// Marks the op to run even when cached.
    pub fn with_ignore_cache(mut self, ignore: bool) -> Self {
        self.ignore_cache = ignore;
        self
    }

    /// Adds a source location.
    pub fn with_location(mut self, loc: SourceLocation) -> Self {
        self.locations.push(loc);
        self
    }

    /// The op metadata BuildKit reads, with the op's own caps merged in.
    pub(crate) fn metadata(&self, op_caps: &[&'static str]) -> pb::OpMetadata {
        let mut caps: BTreeMap<String, bool> = op_caps.iter().map(|c| ((*c).to_owned(), true)).collect();
        if !self.description.is_empty() {
            caps.insert(crate::caps::META_DESCRIPTION.to_owned(), true);
        }
        if self.ignore_cache {
            caps.insert(crate::caps::META_IGNORE_CACHE.to_owned(), true);
        }
        pb::OpMetadata {
            ignore_cache: self.ignore_cache,
            description: self.description.clone(),
            caps,
            ..Default::default()
        }
    }
}
