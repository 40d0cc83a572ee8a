use std::fmt;

use uuid::Uuid;

use crate::claims::{ACCESS_TOKEN_TYPE, Claims};
use crate::scope::Scopes;

/// Who a verified token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person, by the id the auth-api gave her.
    User {
        /// The user's id (the token's `sub`).
        id: Uuid,
        /// The user's email, when the token carries it.
        email: Option<String>,
    },
    /// An OAuth client acting for itself (`client_credentials`).
    Service {
        /// The client's id (the token's `sub` and `client_id`).
        client_id: ClientId,
        /// The scopes granted to this token.
        scopes: Scopes,
    },
}

/// Why a claim set speaks for nobody. Every variant means `invalid_token`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrincipalError {
    /// `client_id` is present but `sub` differs from it.
    #[error("the token's sub and client_id differ")]
    SubjectMismatch,
    /// The `client_id` is not a valid client id.
    #[error("the token's client_id is not valid: {0}")]
    BadClientId(ClientIdError),
    /// The `scope` claim is malformed.
    #[error("the token's scope claim is malformed")]
    BadScope,
    /// A user token whose `sub` is not a lower-case hyphenated UUID.
    #[error("a user token's sub must be a lower-case hyphenated UUID")]
    BadUserSubject,
    /// Neither a service (`client_id`) nor a user (`type: "access"`) token.
    #[error("the token is neither a user token nor a service token")]
    Unclassifiable,
}

impl Principal {
    /// The contract's Principal rule, exactly as written. A SERVICE carries
    /// `client_id` equal to `sub` (whatever else it carries: `client_id`
    /// decides); a USER carries `type: "access"`, no `client_id` and a UUID
    /// `sub` (a `scope` claim changes nothing); anything else is refused.
    /// The shape of `sub` alone never decides: a client whose id is a UUID
    /// is still a service.
    pub fn from_claims(claims: &Claims) -> Result<Self, PrincipalError> {
        if let Some(client_id) = &claims.client_id {
            if claims.sub.as_deref() != Some(client_id.as_str()) {
                return Err(PrincipalError::SubjectMismatch);
            }
            let client_id = ClientId::parse(client_id).map_err(PrincipalError::BadClientId)?;
            let scopes = Scopes::parse(claims.scope.as_deref().unwrap_or(""))
                .map_err(|_| PrincipalError::BadScope)?;
            return Ok(Self::Service { client_id, scopes });
        }
        if claims.token_type.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(PrincipalError::Unclassifiable);
        }
        let sub = claims
            .sub
            .as_deref()
            .ok_or(PrincipalError::BadUserSubject)?;
        let id = Uuid::parse_str(sub).map_err(|_| PrincipalError::BadUserSubject)?;
        // `parse_str` also takes braces, `urn:uuid:`, upper case and no
        // hyphens; the contract's user ids have exactly one spelling.
        if id.hyphenated().to_string() != sub {
            return Err(PrincipalError::BadUserSubject);
        }
        Ok(Self::User {
            id,
            email: claims.email.clone(),
        })
    }
}

/// An OAuth client's id: 1 to 256 characters, none of them a control
/// character, not all blank. Any other string is allowed, a UUID included:
/// the contract's service principals are told apart by `client_id`, not by
/// how their id looks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

/// Why a client id was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientIdError {
    /// Empty or only white space.
    #[error("a client id must not be empty or blank")]
    Blank,
    /// Longer than [`ClientId::MAX_CHARS`] characters.
    #[error("a client id has at most 256 characters")]
    TooLong,
    /// Holds a control character.
    #[error("a client id must not hold control characters")]
    ControlCharacter,
}

impl ClientId {
    /// The longest client id, in characters.
    pub const MAX_CHARS: usize = 256;

    /// Parses a client id.
    pub fn parse(value: &str) -> Result<Self, ClientIdError> {
        if value.trim().is_empty() {
            return Err(ClientIdError::Blank);
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(ClientIdError::TooLong);
        }
        if value.chars().any(char::is_control) {
            return Err(ClientIdError::ControlCharacter);
        }
        Ok(Self(value.to_owned()))
    }

    /// The id as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::claims::Issue;

    const ISSUE: Issue<'static> = Issue {
        issuer: "http://auth.test",
        audience: "conformance-apis",
        now: 1_700_000_000,
        lifetime: 300,
    };

    fn service_claims(client_id: &str, scope: &str) -> Claims {
        Claims {
            sub: Some(client_id.to_owned()),
            client_id: Some(client_id.to_owned()),
            scope: Some(scope.to_owned()),
            ..Claims::default()
        }
    }

    #[test]
    fn the_seeds_service_token_is_a_service() {
        let principal = Principal::from_claims(&service_claims("chat-api-service", "groups:read"));
        assert_eq!(
            principal,
            Ok(Principal::Service {
                client_id: ClientId::parse("chat-api-service").unwrap(),
                scopes: Scopes::parse("groups:read").unwrap(),
            })
        );
    }

    #[test]
    fn the_seeds_user_token_is_a_user() {
        let id = Uuid::parse_str("4c52f4f6-6afe-4203-8761-9d30f0382695").unwrap();
        let principal =
            Principal::from_claims(&Claims::user(id, "alice.admin@example.com", &ISSUE));
        assert_eq!(
            principal,
            Ok(Principal::User {
                id,
                email: Some("alice.admin@example.com".to_owned())
            })
        );
    }

    #[test]
    fn a_client_whose_id_is_a_uuid_is_still_a_service() {
        let id = "4c52f4f6-6afe-4203-8761-9d30f0382695";
        let principal = Principal::from_claims(&service_claims(id, "")).unwrap();
        assert!(matches!(principal, Principal::Service { .. }));
    }

    #[test]
    fn client_id_decides_and_scope_does_not() {
        let user = Claims::user(Uuid::new_v4(), "a@example.com", &ISSUE);
        let with_client_id = Claims {
            client_id: user.sub.clone(),
            ..user.clone()
        };
        assert!(matches!(
            Principal::from_claims(&with_client_id),
            Ok(Principal::Service { .. })
        ));
        let with_scope = Claims {
            scope: Some("groups:read".to_owned()),
            ..user.clone()
        };
        assert!(matches!(
            Principal::from_claims(&with_scope),
            Ok(Principal::User { .. })
        ));
    }

    #[test]
    fn mismatched_or_incomplete_claims_are_refused() {
        let user = Claims::user(Uuid::new_v4(), "a@example.com", &ISSUE);
        let mismatch = Claims {
            sub: Some("other".to_owned()),
            ..service_claims("chat-api-service", "groups:read")
        };
        assert_eq!(
            Principal::from_claims(&mismatch),
            Err(PrincipalError::SubjectMismatch)
        );
        let untyped = Claims {
            token_type: None,
            ..user.clone()
        };
        assert_eq!(
            Principal::from_claims(&untyped),
            Err(PrincipalError::Unclassifiable)
        );
        let upper = Claims {
            sub: user.sub.as_deref().map(str::to_uppercase),
            ..user
        };
        assert_eq!(
            Principal::from_claims(&upper),
            Err(PrincipalError::BadUserSubject)
        );
    }

    /// Client ids as a generator of trouble would write them: UUIDs in every
    /// spelling, non-ASCII, spaces, long strings, anything printable.
    fn client_ids() -> impl Strategy<Value = String> {
        let uuid = any::<u128>().prop_map(Uuid::from_u128);
        prop_oneof![
            uuid.clone().prop_map(|u| u.hyphenated().to_string()),
            uuid.clone()
                .prop_map(|u| u.hyphenated().to_string().to_uppercase()),
            uuid.clone().prop_map(|u| u.braced().to_string()),
            uuid.clone().prop_map(|u| u.urn().to_string()),
            uuid.prop_map(|u| u.simple().to_string()),
            "[a-z][a-z0-9-]{0,40}",
            "\\PC{1,256}".prop_filter("not blank", |s| !s.trim().is_empty()),
            "[ a-zé日本]{0,10}[a-z][ a-z]{0,10}",
        ]
    }

    proptest! {
        #[test]
        fn no_claim_set_makes_the_rule_panic(
            sub in proptest::option::of(".*"),
            client_id in proptest::option::of(".*"),
            token_type in proptest::option::of(prop_oneof![Just("access".to_owned()), ".*"]),
            scope in proptest::option::of(".*"),
            email in proptest::option::of(".*"),
        ) {
            let _ = Principal::from_claims(&Claims { sub, email, token_type, client_id, scope, ..Claims::default() });
        }

        #[test]
        fn every_client_id_yields_a_service_principal(id in client_ids()) {
            let principal = Principal::from_claims(&service_claims(&id, "groups:read"));
            prop_assert_eq!(
                principal,
                Ok(Principal::Service {
                    client_id: ClientId::parse(&id).unwrap(),
                    scopes: Scopes::parse("groups:read").unwrap(),
                })
            );
        }

        #[test]
        fn every_user_claim_set_yields_that_user(id in any::<u128>().prop_map(Uuid::from_u128), email in "[a-z]{1,10}@[a-z]{1,10}\\.test") {
            let principal = Principal::from_claims(&Claims::user(id, &email, &ISSUE));
            prop_assert_eq!(principal, Ok(Principal::User { id, email: Some(email) }));
        }

        #[test]
        fn a_subject_without_the_access_type_is_never_a_user(sub in client_ids()) {
            let claims = Claims { sub: Some(sub), ..Claims::default() };
            let is_user = matches!(Principal::from_claims(&claims), Ok(Principal::User { .. }));
            prop_assert!(!is_user);
        }
    }
}
