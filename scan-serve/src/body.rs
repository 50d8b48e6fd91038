//! Reading a request body under a size limit without breaking the client's pipe.

use axum::body::Body;
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;

/// How far past its limit a body is still read (and thrown away) so that a client still
/// sending reads the 413 rather than a broken pipe; beyond this the connection is cut.
pub const DRAIN_BEYOND_LIMIT: usize = 64 * 1024 * 1024;

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body is larger than the limit (it was drained up to [`DRAIN_BEYOND_LIMIT`] more).
    #[error("request body larger than {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The connection failed while the body was read.
    #[error("could not read the request body: {0}")]
    Read(#[source] axum::Error),
}

/// Reads `body` whole if it has at most `limit` bytes. A larger body is read on and thrown
/// away up to [`DRAIN_BEYOND_LIMIT`] more bytes before [`BodyError::TooLarge`], so that the
/// client, which is usually still sending, gets to read the answer.
pub async fn read_limited(mut body: Body, limit: usize) -> Result<Bytes, BodyError> {
    let mut first: Option<Bytes> = None;
    let mut rest = BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.map_err(BodyError::Read)?.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(chunk.len());
        if total > limit {
            if total > limit.saturating_add(DRAIN_BEYOND_LIMIT) {
                break;
            }
            continue;
        }
        // The usual body is one chunk: keep it without copying.
        match &first {
            None => first = Some(chunk),
            Some(f) => {
                if rest.is_empty() {
                    rest.extend_from_slice(f);
                }
                rest.extend_from_slice(&chunk);
            }
        }
    }
    if total > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        rest.freeze()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_a_body_within_the_limit_and_refuses_a_larger_one() {
        let chunks = ["ab", "cd", "e"].map(|s| Ok::<_, std::io::Error>(Bytes::from(s)));
        let body = Body::from_stream(futures_util::stream::iter(chunks));
        assert_eq!(read_limited(body, 5).await.unwrap(), "abcde");
        let body = Body::from("abcdef");
        assert!(matches!(
            read_limited(body, 5).await,
            Err(BodyError::TooLarge { limit: 5 })
        ));
    }
}
