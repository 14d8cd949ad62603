//! The HTTP client: rustls with the system's CA store, names through
//! hickory, proxies from the environment.

use crate::{err, Error};

pub(crate) fn build() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .user_agent(concat!("envd-frontend/", env!("CARGO_PKG_VERSION")))
        // glibc's resolver cannot work from a static binary.
        .hickory_dns(true)
        .build()
        .map_err(|e| err("cannot set up the HTTP client", e))
}
