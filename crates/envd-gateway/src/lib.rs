//! A client for BuildKit's `LLBBridge` service: what a gateway frontend
//! talks to once BuildKit has started it.
//!
//! BuildKit runs the frontend image as a process whose stdin and stdout are
//! the two halves of one cleartext HTTP/2 connection; BuildKit serves, the
//! frontend is the client. [`transport`] turns any duplex byte stream into a
//! tonic channel (stdio in production, an in-memory pipe in tests), so the
//! [`Client`] itself knows nothing about where its bytes go.
//!
//! The client is deliberately thin: it keeps what `Ping` said the daemon can
//! do, picks the right RPC for it (`ResolveSourceMeta` or the older
//! `ResolveImageConfig`), and offers one [`Client::finish`] that sends the
//! single `Return` BuildKit accepts. Errors that carry a location in the
//! build file become BuildKit's source-annotated error in
//! [`SourceError::to_status`], the one place that format is written.

mod caps;
mod client;
mod env;
mod error;
pub mod transport;

pub use bollard_buildkit_proto::google::rpc::Status;
pub use bollard_buildkit_proto::moby::buildkit::v1::frontend as proto;
pub use caps::Caps;
pub use client::{Client, FileStat, InToto, ResolvedImage, Warning};
pub use env::{CacheImport, FrontendEnv};
pub use error::{plain_status, unsupported_subrequest_status, Error, Located, SourceError, SourceRange};
pub use tonic::Code;
