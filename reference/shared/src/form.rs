//! `application/x-www-form-urlencoded` components, as OAuth client
//! credentials use them: encoded before HTTP Basic's base64 (RFC 6749
//! App. B) and in form bodies.

use base64::Engine as _;

/// Encodes one component: unreserved characters as they are, space as `+`,
/// every other byte as `%XX`.
pub fn encode(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            other => {
                let _ = write!(out, "%{other:02X}");
            }
        }
    }
    out
}

/// Decodes one component; `None` for a broken escape or bytes that are not UTF-8.
pub fn decode(part: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(part.len());
    let mut input = part.bytes();
    while let Some(b) = input.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [input.next()?, input.next()?];
                bytes.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

/// A form body of these pairs.
pub fn body(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Authorization` value for OAuth client credentials by HTTP Basic.
pub fn basic_authorization(client_id: &str, client_secret: &str) -> String {
    let pair = format!("{}:{}", encode(client_id), encode(client_secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_round_trip() {
        for text in ["chat-api-service", "a:b%c d", "é日本", "+&="] {
            assert_eq!(decode(&encode(text)).as_deref(), Some(text));
        }
        assert_eq!(encode("a:b%c d"), "a%3Ab%25c+d");
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%4"), None);
        assert_eq!(
            body(&[
                ("grant_type", "client_credentials"),
                ("scope", "groups:read")
            ]),
            "grant_type=client_credentials&scope=groups%3Aread"
        );
    }

    #[test]
    fn basic_credentials_are_encoded_then_base64() {
        let value = basic_authorization("odd:id", "s%cret");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(decoded, b"odd%3Aid:s%25cret");
    }
}
