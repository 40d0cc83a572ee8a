//! Secrets out of everything the harness prints or writes: the values it
//! knows (passwords, client secrets, the admin token, tokens it obtained)
//! become named placeholders, and anything shaped like a JWT becomes `<jwt>`.

use std::sync::RwLock;

/// Known secrets and their placeholders.
#[derive(Debug, Default)]
pub struct Secrets {
    known: RwLock<Vec<(String, String)>>,
}

impl Secrets {
    /// Registers a secret; `placeholder` is what reports show instead, e.g.
    /// `$ALICE_TOKEN`.
    pub fn add(&self, secret: &str, placeholder: &str) {
        if secret.len() < 4 {
            return;
        }
        let mut known = self
            .known
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !known.iter().any(|(s, _)| s == secret) {
            known.push((secret.to_owned(), placeholder.to_owned()));
            // Longest first, so that a secret containing another is replaced whole.
            known.sort_by_key(|(secret, _)| std::cmp::Reverse(secret.len()));
        }
    }

    /// Registers the secrets an answer hands out (a client's secret, a
    /// token), as `$CLIENT_SECRET`, `$ACCESS_TOKEN`….
    pub fn add_handed_out(&self, answer: Option<&serde_json::Value>) {
        let Some(serde_json::Value::Object(fields)) = answer else {
            return;
        };
        for field in ["client_secret", "access_token", "refresh_token", "password"] {
            if let Some(value) = fields.get(field).and_then(serde_json::Value::as_str) {
                self.add(value, &format!("${}", field.to_uppercase()));
            }
        }
    }

    /// The text with every known secret and every JWT replaced.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (secret, placeholder) in self
            .known
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), placeholder);
            }
        }
        redact_jwts(&out)
    }
}

/// Replaces every `eyJ….eyJ….sig` run with `<jwt>`.
pub fn redact_jwts(text: &str) -> String {
    let is_token_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("eyJ") {
        out.push_str(&rest[..start]);
        let candidate = &rest[start..];
        let end = candidate
            .find(|c: char| !is_token_char(c))
            .unwrap_or(candidate.len());
        let token = &candidate[..end];
        if token.matches('.').count() >= 2 {
            out.push_str("<jwt>");
        } else {
            out.push_str(token);
        }
        rest = &candidate[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_secrets_and_jwts_are_replaced() {
        let secrets = Secrets::default();
        secrets.add("hunter2-password", "$ALICE_PASSWORD");
        let text = r#"{"password":"hunter2-password","access_token":"eyJhbGciOi.eyJzdWIi.c2ln","note":"eyJ alone"}"#;
        assert_eq!(
            secrets.redact(text),
            r#"{"password":"$ALICE_PASSWORD","access_token":"<jwt>","note":"eyJ alone"}"#
        );
    }

    #[test]
    fn secrets_an_answer_hands_out_are_replaced_wherever_they_show() {
        let secrets = Secrets::default();
        let made = serde_json::json!({"client_id": "x", "client_secret": "nktnRoOacNt3T42Ovhi9", "scopes": []});
        secrets.add_handed_out(Some(&made));
        assert_eq!(
            secrets.redact(&made.to_string()),
            r#"{"client_id":"x","client_secret":"$CLIENT_SECRET","scopes":[]}"#
        );
    }
}
