//! The HTTP client: rustls with the image's CA store, names through
//! hickory, proxies from the environment, and credentials for private
//! channels from rattler's auth file (`RATTLER_AUTH_FILE`, the build's
//! `conda-auth` secret) and netrc (`NETRC`, the `netrc` secret). Tokens
//! written in a channel URL (`/t/<token>/`) work as they are.

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

fn builder() -> reqwest::ClientBuilder {
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
    Ok(reqwest_middleware::ClientBuilder::new(plain(channels)?).with_arc(Arc::new(auth)).build())
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
