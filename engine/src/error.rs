//! Errors a client can provoke, each carrying nats-server's exact `-ERR` text and whether
//! the connection is closed after it is sent.

use crate::prelude::*;
use core::fmt;

/// An error reported to a client with `-ERR '<text>'`.
///
/// [`ClientError::closes_connection`] tells whether nats-server closes the connection
/// after sending it; the engine follows the same rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// Parse error: unknown op, wrong argument count, bad sizes, missing CRLF after a payload.
    UnknownProtocolOperation,
    /// Bad credentials, or a first op other than CONNECT when auth is required.
    AuthorizationViolation,
    /// No CONNECT arrived before the auth timeout.
    AuthenticationTimeout,
    /// The payload size exceeds `max_payload`.
    MaximumPayloadViolation,
    /// A control line is longer than `max_control_line`.
    MaximumControlLineExceeded,
    /// The server already holds `max_connections` connections.
    MaximumConnectionsExceeded,
    /// Too many server PINGs went unanswered.
    StaleConnection,
    /// CONNECT asked for a protocol version the server does not speak.
    InvalidClientProtocol,
    /// CONNECT asked for no-responders without headers.
    NoRespondersRequiresHeaders,
    /// The client must use TLS.
    SecureConnectionTlsRequired,
    /// SUB with an invalid subject (connection stays open).
    InvalidSubject,
    /// Pedantic PUB to a subject that is not a valid literal (connection stays open).
    InvalidPublishSubject,
    /// Publish denied by permissions (connection stays open).
    PublishViolation(String),
    /// Subscribe denied by permissions (connection stays open).
    SubscriptionViolation {
        /// The subject of the SUB.
        subject: String,
        /// The queue group of the SUB, if any.
        queue: Option<String>,
    },
    /// The connection reached `max_subscriptions` (connection stays open).
    MaximumSubscriptionsExceeded,
}

impl ClientError {
    /// Whether nats-server closes the connection after sending this error.
    pub fn closes_connection(&self) -> bool {
        !matches!(
            self,
            ClientError::InvalidSubject
                | ClientError::InvalidPublishSubject
                | ClientError::PublishViolation(_)
                | ClientError::SubscriptionViolation { .. }
                | ClientError::MaximumSubscriptionsExceeded
        )
    }
}

impl fmt::Display for ClientError {
    /// The text between the single quotes of `-ERR '...'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::UnknownProtocolOperation => f.write_str("Unknown Protocol Operation"),
            ClientError::AuthorizationViolation => f.write_str("Authorization Violation"),
            ClientError::AuthenticationTimeout => f.write_str("Authentication Timeout"),
            ClientError::MaximumPayloadViolation => f.write_str("Maximum Payload Violation"),
            ClientError::MaximumControlLineExceeded => f.write_str("maximum control line exceeded"),
            ClientError::MaximumConnectionsExceeded => f.write_str("maximum connections exceeded"),
            ClientError::StaleConnection => f.write_str("Stale Connection"),
            ClientError::InvalidClientProtocol => f.write_str("invalid client protocol"),
            ClientError::NoRespondersRequiresHeaders => {
                f.write_str("no responders requires headers support")
            }
            ClientError::SecureConnectionTlsRequired => {
                f.write_str("Secure Connection - TLS Required")
            }
            ClientError::InvalidSubject => f.write_str("Invalid Subject"),
            ClientError::InvalidPublishSubject => f.write_str("Invalid Publish Subject"),
            ClientError::PublishViolation(subject) => {
                write!(
                    f,
                    "Permissions Violation for Publish to {}",
                    GoQuoted(subject)
                )
            }
            ClientError::SubscriptionViolation { subject, queue } => {
                write!(
                    f,
                    "Permissions Violation for Subscription to {}",
                    GoQuoted(subject)
                )?;
                if let Some(queue) = queue {
                    write!(f, " using queue {}", GoQuoted(queue))?;
                }
                Ok(())
            }
            ClientError::MaximumSubscriptionsExceeded => {
                f.write_str("maximum subscriptions exceeded")
            }
        }
    }
}

/// Formats a string the way Go's `%q` (`strconv.Quote`) does for the texts nats-server
/// quotes: double quotes, `"` and `\` escaped, `\n \r \t \a \b \f \v` by name and other
/// control bytes as `\xNN`. The one quoting routine of the engine.
pub struct GoQuoted<'a>(pub &'a str);

impl fmt::Display for GoQuoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for c in self.0.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\u{7}' => f.write_str("\\a")?,
                '\u{8}' => f.write_str("\\b")?,
                '\u{c}' => f.write_str("\\f")?,
                '\u{b}' => f.write_str("\\v")?,
                c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_nats_server() {
        assert_eq!(
            ClientError::PublishViolation("foo.bar".into()).to_string(),
            "Permissions Violation for Publish to \"foo.bar\""
        );
        assert_eq!(
            ClientError::SubscriptionViolation {
                subject: "a".into(),
                queue: Some("q".into())
            }
            .to_string(),
            "Permissions Violation for Subscription to \"a\" using queue \"q\""
        );
        assert!(ClientError::UnknownProtocolOperation.closes_connection());
        assert!(!ClientError::InvalidSubject.closes_connection());
    }
}
