//! Errors of the gateway client, and the one place where an error with a
//! build-file location becomes BuildKit's source-annotated status.

use base64::Engine as _;
use bollard_buildkit_proto::google::{protobuf::Any, rpc::Status};
use bollard_buildkit_proto::pb;
use serde_json::json;

/// The type URL BuildKit registers for `errdefs.Source`; its value is the
/// JSON form of the Go struct (bytes as base64), not protobuf.
pub const SOURCE_TYPE_URL: &str = "github.com/moby/buildkit/errdefs.Source+json";

/// The type URL of `errdefs.Subrequest`: the typed error buildx reads as
/// "this frontend does not answer that request".
pub const SUBREQUEST_TYPE_URL: &str = "github.com/moby/buildkit/errdefs.Subrequest+json";

/// `google.rpc.Code.UNKNOWN`: what a plain Go error becomes, and the code
/// that makes buildx print the message without a prefix.
const CODE_UNKNOWN: i32 = 2;

/// A failure talking to BuildKit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The connection could not be set up.
    #[error("cannot connect to BuildKit: {0}")]
    Connect(#[from] tonic::transport::Error),
    /// BuildKit answered an RPC with an error.
    #[error("{call}: {}", .status.message())]
    Rpc {
        /// The RPC, e.g. `ReadFile`.
        call: &'static str,
        /// BuildKit's status.
        status: tonic::Status,
    },
    /// BuildKit answered in a way this client does not understand.
    #[error("{0}")]
    Protocol(String),
}

impl Error {
    pub(crate) fn rpc(call: &'static str) -> impl FnOnce(tonic::Status) -> Self {
        move |status| Self::Rpc { call, status }
    }

    /// BuildKit's error as a `google.rpc.Status`, details included. A
    /// failed `Solve` carries the failing step's source locations there;
    /// handing the status back in `Return` unchanged is what makes buildx
    /// print the build.envd lines of that step.
    pub fn upstream_status(&self) -> Option<Status> {
        let Self::Rpc { status, .. } = self else { return None };
        if let Ok(full) = <Status as prost::Message>::decode(status.details()) {
            if full.code != 0 {
                return Some(full);
            }
        }
        Some(Status { code: status.code() as i32, message: status.message().to_owned(), details: Vec::new() })
    }

    /// The gRPC code, when BuildKit answered with one.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            Self::Rpc { status, .. } => Some(status.code()),
            _ => None,
        }
    }
}

/// Lines `start..=end` of a file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceRange {
    /// First line, 1-based.
    pub start: u32,
    /// Last line, 1-based, inclusive.
    pub end: u32,
}

/// Lines of a build file, with the file itself so that buildx can print
/// them: the one shape of a place in the build file, for errors and
/// warnings alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The file's name as the user knows it (`build.envd`).
    pub filename: String,
    /// The whole file.
    pub data: Vec<u8>,
    /// Its language, for editors (`starlark`).
    pub language: String,
    /// The lines meant.
    pub ranges: Vec<SourceRange>,
}

impl Located {
    /// The file as `pb.SourceInfo`.
    pub(crate) fn info(&self) -> pb::SourceInfo {
        pb::SourceInfo {
            filename: self.filename.clone(),
            data: self.data.clone(),
            language: self.language.clone(),
            ..Default::default()
        }
    }

    /// The ranges as `pb.Range`s. Both ends are always set (buildx
    /// dereferences them unchecked), and never before line 1.
    pub(crate) fn pb_ranges(&self) -> Vec<pb::Range> {
        let at = |line: u32| Some(pb::Position { line: line.max(1) as i32, character: 0 });
        self.ranges.iter().map(|r| pb::Range { start: at(r.start), end: at(r.end.max(r.start)) }).collect()
    }
}

/// An error that points at lines of a build file; buildx prints those
/// lines above the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceError {
    /// One sentence saying what is wrong.
    pub message: String,
    /// Where.
    pub at: Located,
}

impl SourceError {
    /// The `google.rpc.Status` for `ReturnRequest.error`.
    pub fn to_status(&self) -> Status {
        let info = self.at.info();
        let value = json!({
            "info": {
                "filename": info.filename,
                "data": base64::engine::general_purpose::STANDARD.encode(&info.data),
                "language": info.language,
            },
            "ranges": self.at.pb_ranges().iter().map(|r| json!({
                "start": { "line": r.start.as_ref().map_or(1, |p| p.line) },
                "end": { "line": r.end.as_ref().map_or(1, |p| p.line) },
            })).collect::<Vec<_>>(),
        });
        let detail = Any { type_url: SOURCE_TYPE_URL.to_owned(), value: value.to_string().into_bytes() };
        Status { code: CODE_UNKNOWN, message: self.message.clone(), details: vec![detail] }
    }
}

/// The status BuildKit's frontends answer an unknown subrequest with:
/// `unsupported request <name>`, typed as `errdefs.Subrequest`.
pub fn unsupported_subrequest_status(name: &str) -> Status {
    let detail =
        Any { type_url: SUBREQUEST_TYPE_URL.to_owned(), value: json!({ "name": name }).to_string().into_bytes() };
    Status { code: CODE_UNKNOWN, message: format!("unsupported request {name}"), details: vec![detail] }
}

/// The status for an error with no location.
pub fn plain_status(message: impl Into<String>) -> Status {
    Status { code: CODE_UNKNOWN, message: message.into(), details: Vec::new() }
}
