//! `envd-frontend`: the BuildKit gateway frontend for build.envd.
//!
//! The binary (`main.rs`) is thin: it runs [`serve`] on a single-threaded
//! runtime; re-executed with [`isolate::CHILD_ARG`], it evaluates a
//! build.envd under hard limits; with [`check::CHECK_ARG`], it checks a
//! local file; with `conda-install`, it is the in-build conda installer.
//!
//! [`serve`] parses the options once ([`config`]), runs [`build::build`]
//! — which reads its inputs through [`inputs`] only — or answers a
//! `--call` subrequest ([`call`]), and sends the single `Return`. It is the one place where a [`failure::Failure`] becomes a
//! status: a [`Diagnostic`](envd_lang::Diagnostic) with a span becomes
//! BuildKit's source-annotated error. stdout is the gRPC wire: nothing
//! else may write to it, which the workspace's `print_stdout` lint
//! enforces.

pub mod analysis;
pub mod build;
pub mod call;
pub mod check;
pub mod config;
pub mod failure;
pub mod inputs;
pub mod isolate;
pub mod own_image;
pub mod report;
pub mod request;
pub mod sbom;
pub mod solve;

use envd_gateway::{transport, Client, FrontendEnv, SourceError, Status};

use crate::config::Config;
use crate::failure::Failure;
use crate::request::Request;

/// Connects to BuildKit on stdio, builds, and returns the result or error.
pub async fn serve() -> Result<(), envd_gateway::Error> {
    let env = FrontendEnv::from_process();
    let client = Client::connect(transport::stdio().await?).await?;
    let config = match Config::from_env(&env) {
        Ok(c) => c,
        Err(e) => return client.fail_with(status(e.into())).await,
    };
    let answered = match &config.request {
        Request::Build => {
            return match build::build(&config, &client).await {
                Ok(out) => {
                    let metadata = out.metadata();
                    let attestations = out.attestations();
                    match (out.multi_platform, out.built) {
                        (false, mut built) if built.len() == 1 => {
                            let b = built.remove(0);
                            client.finish(b.ref_id, b.definition, metadata, attestations).await
                        }
                        (_, built) => {
                            let refs = built.into_iter().map(|b| (b.platform.export_id(), b.ref_id, b.definition));
                            client.finish_refs(refs.collect(), metadata, attestations).await
                        }
                    }
                }
                Err(f) => client.fail_with(status(f)).await,
            }
        }
        Request::Describe => Ok(call::describe()),
        Request::Targets => call::targets(&config, &client).await,
        Request::Outline => call::outline(&config, &client).await,
        Request::Lint => call::lint(&config, &client).await,
        Request::Unsupported(name) => return client.fail_with(envd_gateway::unsupported_subrequest_status(name)).await,
    };
    match answered {
        Ok(metadata) => client.finish_metadata(metadata).await,
        Err(f) => client.fail_with(status(f)).await,
    }
}

/// The `Return` status of a failure.
pub fn status(f: Failure) -> Status {
    match f {
        Failure::Upstream(status) => status,
        Failure::Diagnostic(d, source) => match (&d.span, source) {
            (Some(span), Some(source)) => {
                SourceError { message: d.text(), at: report::located(&source, span.line, span.end_line) }.to_status()
            }
            _ => envd_gateway::plain_status(d.to_string()),
        },
    }
}
