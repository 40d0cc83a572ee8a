//! The client ids a property is checked on: generated shapes (text, UUIDs
//! in every spelling, look-alikes of users' ids) and the edges every run
//! tries after them.

use proptest::prelude::*;
use uuid::Uuid;

/// The spellings a UUID can take (RFC 9562 and common variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Spelling {
    /// `0193a1c0-…`, exactly how the contract spells user ids.
    Hyphenated,
    /// `0193A1C0-…`.
    Upper,
    /// `{0193a1c0-…}`.
    Braces,
    /// `urn:uuid:0193a1c0-…`.
    Urn,
    /// `0193a1c0…` without hyphens.
    Simple,
    /// `{0193A1C0…}` without hyphens.
    UpperSimpleBraces,
}

impl Spelling {
    pub(super) fn apply(self, id: Uuid) -> String {
        match self {
            Self::Hyphenated => id.hyphenated().to_string(),
            Self::Upper => id.hyphenated().to_string().to_uppercase(),
            Self::Braces => id.braced().to_string(),
            Self::Urn => id.urn().to_string(),
            Self::Simple => id.simple().to_string(),
            Self::UpperSimpleBraces => format!("{{{}}}", id.simple().to_string().to_uppercase()),
        }
    }
}

/// The shape of a generated client id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// Free text, with the run's tag put in its middle.
    Text(String),
    /// A UUID no user has, in this spelling.
    Uuid(Spelling),
    /// An existing user's id in this spelling; exactly the user's id must be
    /// refused at registration (409).
    UserLookAlike(Spelling),
    /// An id of exactly 255 characters, the contract's longest: the run's
    /// tag padded with letters.
    Longest,
}

/// The cases every run tries after the generated ones, whatever the seed: the bounds the
/// contract names (the 255th character; a UUID-shaped id in each spelling
/// a strict parser would refuse) are too narrow for generation to hit.
pub(super) fn edges() -> Vec<Subject> {
    let mut edges = vec![Subject::Longest];
    edges.extend(
        [
            Spelling::Upper,
            Spelling::Braces,
            Spelling::Urn,
            Spelling::Simple,
        ]
        .into_iter()
        .map(Subject::Uuid),
    );
    edges
}

fn spellings() -> impl Strategy<Value = Spelling> {
    prop_oneof![
        Just(Spelling::Hyphenated),
        Just(Spelling::Upper),
        Just(Spelling::Braces),
        Just(Spelling::Urn),
        Just(Spelling::Simple),
        Just(Spelling::UpperSimpleBraces),
    ]
}

/// The generator. Text comes first so that shrinking moves toward it.
/// Most text stays within RFC 6749's `VSCHAR` (printable ASCII), which the
/// contract's client ids are and a server must accept; the rest goes
/// beyond it (non-ASCII), which a server may refuse with 400.
pub fn subjects() -> impl Strategy<Value = Subject> {
    prop_oneof![
        3 => "[a-z0-9 :%+&=./_~-]{0,16}".prop_map(Subject::Text),
        2 => "[ -~]{0,16}".prop_map(Subject::Text),
        1 => "[a-z0-9é€ß漢 ]{0,16}".prop_map(Subject::Text),
        1 => "\\PC{0,16}".prop_map(Subject::Text),
        1 => "[a-zA-Z0-9]{200,230}".prop_map(Subject::Text),
        2 => spellings().prop_map(Subject::Uuid),
        2 => spellings().prop_map(Subject::UserLookAlike),
    ]
}
