use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The scope that lets a service read groups and their members.
pub const GROUPS_READ: &str = "groups:read";

/// One scope token: `1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 §3.3).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(String);

/// Why a scope string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// An empty scope token.
    #[error("a scope token is empty")]
    Empty,
    /// A character RFC 6749 §3.3 does not allow.
    #[error("a scope token holds a character RFC 6749 §3.3 does not allow")]
    BadCharacter,
}

impl Scope {
    /// Parses one scope token.
    pub fn parse(token: &str) -> Result<Self, ScopeError> {
        if token.is_empty() {
            return Err(ScopeError::Empty);
        }
        if token
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        {
            Ok(Self(token.to_owned()))
        } else {
            Err(ScopeError::BadCharacter)
        }
    }

    /// The token as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A set of scopes, written space-separated in tokens and OAuth parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Parses a space-separated scope parameter. Runs of spaces are not
    /// allowed (RFC 6749 §3.3 has exactly one between tokens); an empty string
    /// is the empty set.
    pub fn parse(value: &str) -> Result<Self, ScopeError> {
        if value.is_empty() {
            return Ok(Self::default());
        }
        value.split(' ').map(Scope::parse).collect()
    }

    /// Whether the set holds this scope.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The scopes in order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            first = false;
            f.write_str(scope.as_str())?;
        }
        Ok(())
    }
}

impl Serialize for Scopes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Scopes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = String::deserialize(deserializer)?;
        Scopes::parse(&value).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_separated_tokens_into_a_set() {
        let scopes = Scopes::parse("groups:read profile groups:read").unwrap();
        assert!(scopes.contains(GROUPS_READ));
        assert!(scopes.contains("profile"));
        assert_eq!(scopes.to_string(), "groups:read profile");
    }

    #[test]
    fn refuses_what_rfc_6749_does_not_allow() {
        assert_eq!(Scopes::parse("a  b"), Err(ScopeError::Empty));
        assert_eq!(Scopes::parse(" a"), Err(ScopeError::Empty));
        assert_eq!(Scope::parse("a\"b"), Err(ScopeError::BadCharacter));
        assert_eq!(Scope::parse("a\\b"), Err(ScopeError::BadCharacter));
        assert_eq!(Scope::parse("é"), Err(ScopeError::BadCharacter));
        assert!(Scopes::parse("").unwrap().is_empty());
    }

    #[test]
    fn subset_is_by_token() {
        let granted = Scopes::parse("groups:read profile").unwrap();
        assert!(Scopes::parse("groups:read").unwrap().is_subset(&granted));
        assert!(!Scopes::parse("groups:write").unwrap().is_subset(&granted));
    }
}
