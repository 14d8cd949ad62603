//! `envd-frontend`: the BuildKit gateway frontend for build.envd.
//!
//! The binary is thin. It parses the options once, runs
//! [`build::build`], and sends the single `Return`. This is the one place
//! where an error with a build.envd span becomes BuildKit's source-annotated
//! error. stdout is the gRPC wire: nothing else may write to it, which the
//! workspace's `print_stdout` lint enforces.

mod build;
mod config;

use std::process::ExitCode;

use envd_gateway::{transport, Client, FrontendEnv, SourceError, SourceRange};

use crate::build::Failure;
use crate::config::Config;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("envd-frontend: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(serve());
    // tokio reads stdin on a blocking thread that stays parked in read(2)
    // until BuildKit closes the pipe, and BuildKit waits for this process
    // to exit: do not wait for that thread.
    runtime.shutdown_background();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("envd-frontend: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Connects to BuildKit on stdio, builds, and returns the result or error.
async fn serve() -> Result<(), envd_gateway::Error> {
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
