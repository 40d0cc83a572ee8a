//! Parsed input: once a value has one of these types it is valid.

use std::fmt;

/// An email address, trimmed and lower-cased, so that one address is one
/// account whatever its case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// The longest address, in characters, white space around it included
    /// (RFC 5321 §4.5.3.1.3's path limit less brackets; counted before
    /// trimming, as the OpenAPI document's `maxLength` counts).
    pub const MAX_CHARS: usize = 254;

    /// Parses `local@domain`: one `@`, both parts non-empty, no white space
    /// or control characters, a dot-free domain allowed (`localhost`).
    pub fn parse(value: &str) -> Result<Self, String> {
        if value.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "an email has at most {} characters",
                Self::MAX_CHARS
            ));
        }
        let value = value.trim();
        let Some((local, domain)) = value.split_once('@') else {
            return Err("an email needs an @".to_owned());
        };
        if local.is_empty() || domain.is_empty() || domain.contains('@') {
            return Err("an email is local@domain".to_owned());
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("an email has no spaces or control characters".to_owned());
        }
        Ok(Self(value.to_lowercase()))
    }

    /// The address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password: 8 to 1024 characters. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Fewest characters.
    pub const MIN_CHARS: usize = 8;
    /// Most characters; a cap keeps hashing cost bounded.
    pub const MAX_CHARS: usize = 1024;

    /// Parses a new password.
    pub fn parse(value: &str) -> Result<Self, String> {
        let n = value.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&n) {
            return Err(format!(
                "a password has {} to {} characters",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
        Ok(Self(value.to_owned()))
    }

    /// The password, for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A group's name: 1 to 200 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupName(String);

impl GroupName {
    /// Most characters.
    pub const MAX_CHARS: usize = 200;

    /// Parses a group name.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if value.is_empty() || value.chars().count() > Self::MAX_CHARS {
            return Err(format!(
                "a group name has 1 to {} characters",
                Self::MAX_CHARS
            ));
        }
        if value.chars().any(char::is_control) {
            return Err("a group name has no control characters".to_owned());
        }
        Ok(Self(value.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            Email::parse(" Alice.Admin@Example.COM ").unwrap().as_str(),
            "alice.admin@example.com"
        );
        assert!(Email::parse("bob@localhost").is_ok());
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "a@b@c",
            "a b@c.d",
            "a\u{0}@b.c",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
        // Characters, white space included, as the document's maxLength counts.
        assert!(Email::parse(&format!("{}@x", "é".repeat(252))).is_ok());
        assert!(Email::parse(&format!(" {}@x", "a".repeat(252))).is_err());
    }

    #[test]
    fn passwords_have_bounds_and_never_print() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(1025)).is_err());
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn group_names_are_trimmed_and_bounded() {
        assert_eq!(GroupName::parse("  Team  ").unwrap().as_str(), "Team");
        assert!(GroupName::parse("   ").is_err());
        assert!(GroupName::parse(&"g".repeat(201)).is_err());
    }
}
