//! The HTTP client: rustls with the image's CA store, names through
//! hickory, proxies from the environment, and credentials for private
//! channels from rattler's auth file (`RATTLER_AUTH_FILE`, the build's
//! `conda-auth` secret) and netrc (`NETRC`, the `netrc` secret). Tokens
//! written in a channel URL (`/t/<token>/`) work as they are.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use rattler_networking::AuthenticationMiddleware;
use reqwest_middleware::ClientWithMiddleware;

use crate::error::{err, err_chain, Error};

/// The variable (set by the build arg of the same name) that says how
/// many seconds the installer waits on a channel.
pub(crate) const TIMEOUT_VAR: &str = "ENVD_HTTP_TIMEOUT";

/// How long the installer waits on a channel to connect, and between two
/// reads of an answer: [`TIMEOUT_VAR`] seconds, 60 without it. A channel
/// that stalls is then an error that names the URL, never a hang.
pub(crate) fn timeout() -> Duration {
    let seconds = std::env::var(TIMEOUT_VAR).ok().and_then(|v| v.trim().parse::<u64>().ok()).filter(|s| *s > 0);
    Duration::from_secs(seconds.unwrap_or(60))
}

/// rustls's cryptography is ring's, installed as the process default,
/// which every reqwest client takes (ours, and any that rattler makes).
/// ring builds a few C and assembly files where aws-lc-rs, reqwest's own
/// default, builds a whole C library: about a minute less of CPU for each
/// release build of the frontend, on each platform.
fn install_tls_provider() {
    // Err only when a provider is installed already, which is this one.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn builder() -> reqwest::ClientBuilder {
    install_tls_provider();
    reqwest::Client::builder()
        .user_agent(concat!("envd-frontend/", env!("CARGO_PKG_VERSION")))
        // glibc's resolver cannot work from a static binary.
        .hickory_dns(true)
        .connect_timeout(timeout())
        .read_timeout(timeout())
}

/// A client for `channels`, with credentials.
pub(crate) fn build(channels: &[String]) -> Result<ClientWithMiddleware, Error> {
    let auth = AuthenticationMiddleware::from_env_and_defaults()
        .map_err(|e| err("cannot read the conda credentials (the conda-auth or netrc secret)", e))?;
    Ok(reqwest_middleware::ClientBuilder::new(plain(channels)?).with(retry).with_arc(Arc::new(auth)).build())
}

/// How often a request that met a transient failure is tried again.
const RETRIES: u32 = 3;

/// Tries a request again, after 1, 2 and 4 seconds, when the channel
/// answered a server error (5xx) or 429, or the connection failed: a
/// channel behind a busy proxy often does, and conda retries too.
/// Bounded: at most [`RETRIES`] more tries and 7 s of waiting besides the
/// timeouts. Streaming failures of an archive are the package cache's to
/// retry (see `fetch_locked`).
fn retry<'a>(
    req: reqwest::Request,
    extensions: &'a mut http::Extensions,
    next: reqwest_middleware::Next<'a>,
) -> Pin<Box<dyn Future<Output = reqwest_middleware::Result<reqwest::Response>> + Send + 'a>> {
    Box::pin(async move {
        let mut tries = 0;
        loop {
            let Some(attempt) = req.try_clone() else { return next.run(req, extensions).await };
            let result = next.clone().run(attempt, &mut *extensions).await;
            let transient = match &result {
                Ok(r) => r.status().is_server_error() || r.status() == reqwest::StatusCode::TOO_MANY_REQUESTS,
                // A timeout is not tried again here: the package cache
                // tries an archive again (see `fetch_locked`), and a
                // stalled channel should cost a few timeouts, not sixteen.
                Err(e) => e.is_connect() || (e.is_request() && !e.is_timeout()),
            };
            if !transient || tries == RETRIES {
                return result;
            }
            tokio::time::sleep(Duration::from_secs(1 << tries)).await;
            tries += 1;
        }
    })
}

/// The client without credentials. An image without CA certificates (a
/// minimal Ubuntu, say) can still install from `file://` and `http://`
/// channels; an `https://` channel there is an error that says what to
/// install.
fn plain(channels: &[String]) -> Result<reqwest::Client, Error> {
    match builder().build() {
        Ok(c) => Ok(c),
        Err(e) if channels.iter().any(|c| c.starts_with("https://")) => Err(err_chain(
            "cannot verify https channels: the image has no usable CA certificates (install ca-certificates in the \
             base image first)",
            &e,
        )),
        // Nothing to verify: no roots at all.
        Err(_) => {
            builder().tls_certs_only(Vec::new()).build().map_err(|e| err_chain("cannot set up the HTTP client", &e))
        }
    }
}
