//! One HTTP/2 connection over any duplex byte stream.
//!
//! BuildKit serves gRPC with HTTP/2 prior knowledge on the frontend's stdin
//! and stdout. tonic wants a connector it can call for every (re)connect; a
//! pipe can be handed out once only, so the connector takes it out of an
//! `Option` and fails any later attempt instead of hanging.

use std::io;
use std::sync::{Arc, Mutex};

use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tonic::transport::{Channel, Endpoint, Uri};

use crate::Error;

/// A channel over `io`, which is used for this one connection only.
pub async fn connect<IO>(io: IO) -> Result<Channel, Error>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let slot = Arc::new(Mutex::new(Some(io)));
    let connector = tower::service_fn(move |_: Uri| {
        let io = slot.lock().map(|mut s| s.take()).unwrap_or(None);
        async move {
            io.map(TokioIo::new)
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the BuildKit connection was closed"))
        }
    });
    // The authority is not checked by BuildKit; "localhost" is what its own
    // client sends.
    Ok(Endpoint::from_static("http://localhost").connect_with_connector(connector).await?)
}

/// The channel to BuildKit on this process's stdin and stdout.
pub async fn stdio() -> Result<Channel, Error> {
    connect(tokio::io::join(tokio::io::stdin(), tokio::io::stdout())).await
}
