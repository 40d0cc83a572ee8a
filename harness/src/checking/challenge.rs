//! `WWW-Authenticate` challenges as RFC 9110 §11.6.1 writes them, read the
//! way a client must: the scheme without case (§11.1), each auth-param's
//! name without case and its value a token or a quoted-string, the same
//! (§11.2), several challenges in one field or in several fields. A check
//! of a challenge compares what it means, never how it is spelled.

use std::collections::BTreeMap;

/// One challenge: its scheme and its auth-params, names in lower case,
/// values unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The scheme as sent.
    pub scheme: String,
    /// Auth-param name (lower case) to value.
    pub params: BTreeMap<String, String>,
}

/// Whether `c` may appear in a token (RFC 9110 §5.6.2 `tchar`).
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

/// A reader over one header value.
struct Reader<'a> {
    rest: &'a str,
}

impl Reader<'_> {
    fn skip(&mut self, what: impl Fn(char) -> bool) {
        self.rest = self.rest.trim_start_matches(what);
    }

    fn token(&mut self) -> String {
        let end = self.rest.find(|c| !is_tchar(c)).unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at(end);
        self.rest = rest;
        token.to_owned()
    }

    /// A quoted-string's content, its escapes undone; the reader stands on
    /// the opening quote.
    fn quoted(&mut self) -> String {
        let mut out = String::new();
        let mut chars = self.rest[1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.rest = &self.rest[i + 2..];
                    return out;
                }
                '\\' => out.extend(chars.next().map(|(_, c)| c)),
                c => out.push(c),
            }
        }
        self.rest = "";
        out
    }

    fn peek(&self) -> Option<char> {
        self.rest.chars().next()
    }
}

/// Every challenge of these header values (each a field line of
/// `WWW-Authenticate`). A token68 (`Basic abc==`) is passed over.
pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    let mut out: Vec<Challenge> = Vec::new();
    for value in values {
        let mut reader = Reader { rest: value };
        loop {
            reader.skip(|c| c == ' ' || c == '\t' || c == ',');
            if reader.rest.is_empty() {
                break;
            }
            let word = reader.token();
            if word.is_empty() {
                // Not a token: a stray character, passed over.
                reader.rest = &reader.rest[reader.peek().map_or(0, char::len_utf8)..];
                continue;
            }
            reader.skip(|c| c == ' ' || c == '\t');
            let param = reader.peek() == Some('=') && !reader.rest[1..].starts_with('=');
            match out.last_mut() {
                Some(challenge) if param => {
                    reader.rest = &reader.rest[1..];
                    reader.skip(|c| c == ' ' || c == '\t');
                    let value = if reader.peek() == Some('"') {
                        reader.quoted()
                    } else {
                        reader.token()
                    };
                    challenge.params.insert(word.to_ascii_lowercase(), value);
                }
                _ if reader.peek() == Some('=') => {
                    // A token68's padding.
                    reader.skip(|c| c == '=');
                }
                _ => out.push(Challenge {
                    scheme: word,
                    params: BTreeMap::new(),
                }),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn reads_a_bearer_challenge_quoted_or_not() {
        let quoted = parse([
            r#"Bearer realm="chat", error="invalid_token", error_description="a \"bad\" one""#,
        ]);
        let bare = parse([
            "bearer Realm=chat,error=invalid_token , error_description=\"a \\\"bad\\\" one\"",
        ]);
        let expected = params(&[
            ("realm", "chat"),
            ("error", "invalid_token"),
            ("error_description", "a \"bad\" one"),
        ]);
        assert_eq!(quoted[0].scheme, "Bearer");
        assert_eq!(quoted[0].params, expected);
        assert_eq!(bare[0].scheme, "bearer");
        assert_eq!(bare[0].params, expected);
    }

    #[test]
    fn reads_several_challenges_in_one_field_and_across_fields() {
        let read = parse([
            r#"Basic realm="auth-api", charset="UTF-8", Bearer error="insufficient_scope", scope="groups:read""#,
            "Negotiate abc123==",
        ]);
        let schemes: Vec<&str> = read.iter().map(|c| c.scheme.as_str()).collect();
        assert_eq!(schemes, ["Basic", "Bearer", "Negotiate"]);
        assert_eq!(
            read[1].params,
            params(&[("error", "insufficient_scope"), ("scope", "groups:read")])
        );
        assert!(read[2].params.is_empty());
    }

    #[test]
    fn a_bare_scheme_has_no_params() {
        let read = parse(["Bearer"]);
        assert_eq!(read.len(), 1);
        assert!(read[0].params.is_empty());
    }
}
