//! How the server is exposed: address, bearer token, body and time limits, concurrency.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::error::ServeError;

/// Shortest token accepted: guessing 24 random characters over the network is hopeless.
const MIN_TOKEN_CHARS: usize = 24;

/// The shared secret clients send as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct BearerToken(String);

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<hidden>)")
    }
}

impl BearerToken {
    /// The token is the file's content without surrounding whitespace (a file, not an
    /// argument, so it never shows in `ps` or shell history).
    pub fn from_file(path: &Path) -> Result<Self, ServeError> {
        let bad = |message: String| ServeError::TokenFile {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        Self::new(text.trim()).map_err(bad)
    }

    pub fn new(token: &str) -> Result<Self, String> {
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(format!(
                "the token must have at least {MIN_TOKEN_CHARS} characters"
            ));
        }
        if !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err("the token must be printable ASCII without spaces".into());
        }
        Ok(BearerToken(token.to_string()))
    }

    /// Whether an `Authorization` header value carries this token; compares every byte
    /// whatever the first difference, so timing does not reveal a prefix.
    pub fn accepts(&self, header: Option<&str>) -> bool {
        let Some(given) = header.and_then(|h| h.strip_prefix("Bearer ")) else {
            return false;
        };
        let (a, b) = (given.as_bytes(), self.0.as_bytes());
        let differences = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        a.len() == b.len() && differences == 0
    }
}

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub token: Option<BearerToken>,
    /// Largest request body; larger is 413.
    pub max_body_bytes: usize,
    /// Inferences running at once, each on a blocking thread.
    pub max_concurrent: usize,
    /// Inferences waiting for a turn; beyond that, 503 with Retry-After.
    pub queue_depth: usize,
    /// Whole request, from its first byte to the response; beyond that, 503.
    pub request_timeout: Duration,
    /// One line per request (route, status, milliseconds; never the body or the raw path).
    pub log_requests: bool,
    /// The fold models that answer; `None` for all of them (the run's ensemble).
    pub folds: Option<Vec<usize>>,
}

impl ServeOptions {
    /// Loopback needs no token; any other address does (refused otherwise).
    pub fn check(&self) -> Result<(), ServeError> {
        if !self.addr.ip().is_loopback() && self.token.is_none() {
            return Err(ServeError::TokenRequired { addr: self.addr });
        }
        if self.max_concurrent == 0 {
            return Err(ServeError::Runtime(
                "--max-concurrent must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(addr: &str, token: Option<BearerToken>) -> ServeOptions {
        ServeOptions {
            addr: addr.parse().unwrap(),
            token,
            max_body_bytes: 1 << 20,
            max_concurrent: 1,
            queue_depth: 1,
            request_timeout: Duration::from_secs(1),
            log_requests: false,
            folds: None,
        }
    }

    #[test]
    fn other_addresses_need_a_token() {
        assert!(options("127.0.0.1:0", None).check().is_ok());
        assert!(options("[::1]:0", None).check().is_ok());
        let err = options("0.0.0.0:8080", None).check().unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to listen on 0.0.0.0:8080 without a bearer token: a non-loopback address needs --token-file"
        );
        let token = BearerToken::new("abcdefghijklmnopqrstuvwxyz").unwrap();
        assert!(options("0.0.0.0:8080", Some(token)).check().is_ok());
    }

    #[test]
    fn tokens_match_exactly() {
        let token = BearerToken::new("abcdefghijklmnopqrstuvwxyz").unwrap();
        assert!(token.accepts(Some("Bearer abcdefghijklmnopqrstuvwxyz")));
        assert!(!token.accepts(Some("Bearer abcdefghijklmnopqrstuvwxy")));
        assert!(!token.accepts(Some("Bearer abcdefghijklmnopqrstuvwxyzz")));
        assert!(!token.accepts(Some("Bearer abcdefghijklmnopqrstuvwxyZ")));
        assert!(!token.accepts(Some("Basic abcdefghijklmnopqrstuvwxyz")));
        assert!(!token.accepts(None));
        assert!(format!("{token:?}").contains("hidden"));
    }

    #[test]
    fn short_or_spaced_tokens_are_refused() {
        assert!(BearerToken::new("short").is_err());
        assert!(BearerToken::new("abcdefghijkl mnopqrstuvwxyz").is_err());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  abcdefghijklmnopqrstuvwxyz\n").unwrap();
        assert!(
            BearerToken::from_file(&file)
                .unwrap()
                .accepts(Some("Bearer abcdefghijklmnopqrstuvwxyz"))
        );
        let missing = BearerToken::from_file(&dir.path().join("none")).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with(&dir.path().join("none").display().to_string())
        );
    }
}
