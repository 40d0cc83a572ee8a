//! The kinds of bad input, with their names in check ids, the rules
//! their refusals rest on and their titles.

/// A kind of bad input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Case {
    MalformedJson,
    NotAnObject,
    WrongTypes,
    NonUtf8Body,
    OversizedBody,
    WrongContentType,
    GeneratedBodies,
    MalformedForm,
    BadPathParams,
    BadQuery,
    BadHeaderParams,
    OversizedHeader,
    NonUtf8Header,
}

impl Case {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed-json",
            Self::NotAnObject => "not-an-object",
            Self::WrongTypes => "wrong-types",
            Self::NonUtf8Body => "non-utf8-body",
            Self::OversizedBody => "oversized-body",
            Self::WrongContentType => "wrong-content-type",
            Self::GeneratedBodies => "generated-bodies",
            Self::MalformedForm => "malformed-form",
            Self::BadPathParams => "bad-path-params",
            Self::BadQuery => "bad-query",
            Self::BadHeaderParams => "bad-header-params",
            Self::OversizedHeader => "oversized-header",
            Self::NonUtf8Header => "non-utf8-header",
        }
    }

    /// The rule a case enforces: every case checks that no 5xx comes
    /// back and that errors are the contract's body; these name what the
    /// refusal itself rests on.
    pub(super) fn rule(self) -> &'static str {
        match self {
            Self::MalformedJson
            | Self::NotAnObject
            | Self::WrongTypes
            | Self::NonUtf8Body
            | Self::BadPathParams => "CONTRACT Common rules: bad input",
            Self::WrongContentType => "CONTRACT Auth-API: allowed alternatives",
            Self::MalformedForm => "RFC 6749 §5.2",
            Self::BadQuery => "CONTRACT Chat-API: listing",
            Self::GeneratedBodies
            | Self::OversizedBody
            | Self::BadHeaderParams
            | Self::OversizedHeader
            | Self::NonUtf8Header => "CONTRACT Common rules: no 500",
        }
    }

    pub(super) fn title(self) -> &'static str {
        match self {
            Self::MalformedJson => "truncated and broken JSON",
            Self::NotAnObject => "JSON that is not an object",
            Self::WrongTypes => "each property with a value of the wrong type",
            Self::NonUtf8Body => "a body that is not UTF-8",
            Self::OversizedBody => "a body over 1 MiB",
            Self::WrongContentType => "a body in another content type",
            Self::GeneratedBodies => "generated JSON bodies",
            Self::MalformedForm => "a form that does not parse",
            Self::BadPathParams => "path parameters that are no ids",
            Self::BadQuery => "query parameters out of range or malformed",
            Self::BadHeaderParams => "header parameters out of range",
            Self::OversizedHeader => "a 64 KiB header",
            Self::NonUtf8Header => "header values that are not UTF-8",
        }
    }
}
