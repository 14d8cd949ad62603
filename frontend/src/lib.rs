//! `envd-frontend`: the BuildKit gateway frontend for build.envd.
//!
//! The binary (`main.rs`) is thin: it runs [`serve`] on a single-threaded
//! runtime, or, re-executed with [`isolate::CHILD_ARG`], evaluates a
//! build.envd under hard limits. [`serve`] parses the options once, runs
//! [`build::build`], and sends the single `Return`; it is the one place
//! where an error with a build.envd span becomes BuildKit's
//! source-annotated error. stdout is the gRPC wire: nothing else may write
//! to it, which the workspace's `print_stdout` lint enforces.

pub mod build;
pub mod config;
pub mod isolate;
pub mod own_image;

use envd_gateway::{transport, Client, FrontendEnv, SourceError, SourceRange};

use crate::build::Failure;
use crate::config::Config;

/// Connects to BuildKit on stdio, builds, and returns the result or error.
pub async fn serve() -> Result<(), envd_gateway::Error> {
    let env = FrontendEnv::from_process();
    let mut client = Client::connect(transport::stdio().await?).await?;
    let config = match Config::from_env(&env) {
        Ok(c) => c,
        Err(e) => return client.fail(&e.to_string()).await,
    };
    match build::build(&config, &mut client).await {
        Ok(out) => client.finish(out.ref_id, out.definition, out.metadata).await,
        Err(f) => match (f.upstream.clone(), source_error(&f)) {
            (Some(status), _) => client.fail_with(status).await,
            (None, Some(err)) => client.fail_at(&err).await,
            (None, None) => client.fail(&f.message).await,
        },
    }
}

/// The source-annotated form of a failure that has a place in build.envd.
fn source_error(f: &Failure) -> Option<SourceError> {
    let (span, source) = (f.span.as_ref()?, f.source.as_ref()?);
    Some(SourceError {
        message: f.message.clone(),
        filename: source.filename.clone(),
        data: source.data.clone(),
        ranges: vec![SourceRange { start: span.line, end: span.end_line.max(span.line) }],
    })
}
