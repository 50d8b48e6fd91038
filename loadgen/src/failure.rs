//! The failure class of a request that got no usable response head, from reqwest's error.
//!
//! reqwest reports every such failure as one error kind (`is_request`); what happened is in
//! its chain of sources: hyper-util's connect error, then hyper's own error, then the socket's
//! `io::Error`. Measured on loopback (hyper 1.x, reqwest 0.13):
//!
//! | the target                                   | the chain's telling cause           |
//! |----------------------------------------------|-------------------------------------|
//! | nothing listening                            | connect error, `ConnectionRefused`  |
//! | accepts, closes before reading the request   | hyper `IncompleteMessage` or `Io(ConnectionReset)` |
//! | reads the request, closes (FIN)              | hyper `IncompleteMessage`           |
//! | closes with the request unread (RST)         | hyper `Io(ConnectionReset)`         |
//! | garbage status line                          | hyper `Parse(Version)`              |
//! | a head over hyper's ~400 KiB buffer          | hyper `Parse(TooLarge)`             |
//!
//! A kept-alive connection the server closed while idle is noticed before it is reused, and
//! the request goes out on a new one; one closed as the request arrives on it fails as
//! `IncompleteMessage` (hyper-util retries only requests it had not yet written), like any
//! connection closed before the head.

use std::error::Error;
use std::io;

use crate::record::FailureClass;

/// The class of a failed send (no response head was received).
pub fn of_request_error(error: &reqwest::Error) -> FailureClass {
    // Before the timeout: a connect timeout is both, and is a connect failure.
    if error.is_connect() {
        FailureClass::Connect
    } else if error.is_timeout() {
        FailureClass::Timeout
    } else if error.is_redirect() {
        // A redirect loop, or a redirect without a usable location: no answer to use.
        FailureClass::BadResponse
    } else {
        of_cause(error)
    }
}

/// The class named by the first hyper or socket error in `error`'s sources; a failure after
/// the connection was made that names neither still broke before the head.
fn of_cause(error: &(dyn Error + 'static)) -> FailureClass {
    let mut cause = error.source();
    while let Some(e) = cause {
        if let Some(hyper) = e.downcast_ref::<hyper::Error>() {
            if hyper.is_parse() {
                return FailureClass::BadResponse;
            }
            if hyper.is_incomplete_message() || hyper.is_canceled() || hyper.is_closed() {
                return FailureClass::ClosedBeforeResponse;
            }
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::InvalidData => FailureClass::BadResponse,
                _ => FailureClass::ClosedBeforeResponse,
            };
        }
        cause = e.source();
    }
    FailureClass::ClosedBeforeResponse
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;

    /// An error wrapping another, as reqwest's and hyper's do.
    #[derive(Debug)]
    struct Wrapped(Box<dyn Error + 'static>);

    impl fmt::Display for Wrapped {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "wrapped: {}", self.0)
        }
    }

    impl Error for Wrapped {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&*self.0)
        }
    }

    fn wrapped(kind: io::ErrorKind) -> Wrapped {
        Wrapped(Box::new(Wrapped(Box::new(io::Error::from(kind)))))
    }

    #[test]
    fn socket_errors_below_the_head_name_their_class() {
        for kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::UnexpectedEof,
        ] {
            assert_eq!(
                of_cause(&wrapped(kind)),
                FailureClass::ClosedBeforeResponse,
                "{kind:?}"
            );
        }
        assert_eq!(
            of_cause(&wrapped(io::ErrorKind::InvalidData)),
            FailureClass::BadResponse
        );
    }

    #[test]
    fn a_failure_that_names_no_cause_broke_before_the_head() {
        let bare = Wrapped(Box::new(fmt::Error));
        assert_eq!(of_cause(&bare), FailureClass::ClosedBeforeResponse);
    }

    /// Real reqwest errors from real sockets on loopback.
    #[tokio::test]
    async fn reqwest_errors_from_broken_servers() {
        use std::io::{Read, Write};
        use std::net::TcpListener;

        /// A server answering each connection with `answer`, after reading the request head.
        fn serve(answer: &'static [u8]) -> String {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!("http://{}/", listener.local_addr().unwrap());
            std::thread::spawn(move || {
                for mut stream in listener.incoming().flatten() {
                    let mut head = [0u8; 4096];
                    let _ = stream.read(&mut head);
                    let _ = stream.write_all(answer);
                }
            });
            url
        }

        let refused = {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}/", listener.local_addr().unwrap())
        };
        let client = reqwest::Client::new();
        for (url, class) in [
            (refused, FailureClass::Connect),
            (serve(b""), FailureClass::ClosedBeforeResponse),
            (serve(b"HELLO\r\n\r\n"), FailureClass::BadResponse),
            (serve(b"HTTP/1.1 abc OK\r\n\r\n"), FailureClass::BadResponse),
        ] {
            let error = client.get(&url).send().await.unwrap_err();
            assert_eq!(of_request_error(&error), class, "{error:?}");
        }
    }
}
