//! The requests of each case: what is sent, and whether the input is
//! wrong beyond doubt (a 2xx fails too) or only must not fail the server.

use serde_json::{Value, json};

use super::Context;
use super::bodies::{generated_bodies, minimal_body, wrong_types};
use super::cases::Case;
use super::operations::{Api, BodyKind, Operation, Security, credentials, url};

/// A header far over what servers and proxies take (8 to 16 KiB).
const OVERSIZED_HEADER: usize = 64 * 1024;
/// A body far over any limit the contract's requests need.
const OVERSIZED_BODY: usize = 1024 * 1024 + 1;

/// One request of a case.
#[derive(Debug, Clone)]
pub(super) struct Probe {
    pub(super) api: Api,
    pub(super) what: String,
    pub(super) method: reqwest::Method,
    pub(super) url: String,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) body: Option<(String, Vec<u8>)>,
    /// The input is wrong beyond doubt: a 2xx is a failure too.
    pub(super) must_refuse: bool,
    /// The statuses a refusal may take where the contract names them
    /// (empty: any 4xx).
    pub(super) refusals: &'static [u16],
}

/// The requests of one case.
pub(super) fn probes(context: &Context, op: &Operation, case: Case) -> Vec<Probe> {
    let probes = Probes::new(context, op);
    match case {
        Case::MalformedJson => probes.malformed_json(),
        Case::NotAnObject => probes.not_an_object(),
        Case::WrongTypes => probes.wrong_types(),
        Case::NonUtf8Body => probes.non_utf8_body(),
        Case::OversizedBody => probes.oversized_body(),
        Case::WrongContentType => probes.wrong_content_type(),
        Case::GeneratedBodies => probes.generated_bodies(),
        Case::MalformedForm => probes.malformed_form(),
        Case::BadPathParams => probes.bad_path_params(),
        Case::BadQuery => probes.bad_query(),
        Case::BadHeaderParams => probes.bad_header_params(),
        Case::OversizedHeader => probes.oversized_header(),
        Case::NonUtf8Header => probes.non_utf8_header(),
    }
}

/// What every probe of an operation starts from: its URL, its caller's
/// credentials and a valid body to break.
struct Probes<'a> {
    context: &'a Context,
    op: &'a Operation,
    base: Probe,
    valid: Value,
}

impl<'a> Probes<'a> {
    fn new(context: &'a Context, op: &'a Operation) -> Self {
        let base = Probe {
            api: op.api,
            what: String::new(),
            method: op.method.clone(),
            url: url(context, op, &[]),
            headers: credentials(context, op),
            body: None,
            must_refuse: true,
            refusals: &[],
        };
        let valid = match &op.body {
            Some(BodyKind::Json(schema)) => minimal_body(schema),
            _ => json!({}),
        };
        Self {
            context,
            op,
            base,
            valid,
        }
    }

    fn json(&self, what: &str, bytes: Vec<u8>) -> Probe {
        Probe {
            what: what.to_owned(),
            body: Some(("application/json".to_owned(), bytes)),
            ..self.base.clone()
        }
    }

    fn form(&self, what: &str, bytes: Vec<u8>) -> Probe {
        Probe {
            what: what.to_owned(),
            body: Some(("application/x-www-form-urlencoded".to_owned(), bytes)),
            ..self.base.clone()
        }
    }

    fn malformed_json(&self) -> Vec<Probe> {
        [
            "{",
            "{\"content\": ",
            "{\"a\": 1,}",
            "{'single': 'quotes'}",
            "{\"a\": NaN}",
            "\"unterminated",
            "{\"a\": 1} trailing",
            "",
        ]
        .iter()
        .map(|text| self.json(&format!("body {text:?}"), text.as_bytes().to_vec()))
        .collect()
    }

    fn not_an_object(&self) -> Vec<Probe> {
        ["[]", "null", "\"text\"", "42", "true", "[{}]"]
            .iter()
            .map(|text| self.json(&format!("body {text}"), text.as_bytes().to_vec()))
            .collect()
    }

    fn wrong_types(&self) -> Vec<Probe> {
        wrong_types(self.op, &self.valid)
            .into_iter()
            .map(|(what, body)| self.json(&what, body.to_string().into_bytes()))
            .collect()
    }

    fn non_utf8_body(&self) -> Vec<Probe> {
        let mut bytes = b"{\"content\": \"".to_vec();
        bytes.extend([0xff, 0xfe, 0xc3, 0x28]);
        bytes.extend(b"\"}");
        match self.op.body {
            Some(BodyKind::Form) => vec![
                self.form(
                    "raw bytes 0xff 0xfe in the form",
                    b"grant_type=client_\xff\xfe".to_vec(),
                ),
                self.form(
                    "a percent-encoded byte that is no UTF-8",
                    b"grant_type=client_credentials&scope=%FF%FE".to_vec(),
                ),
            ],
            _ => vec![self.json("a string with bytes 0xff 0xfe", bytes)],
        }
    }

    fn oversized_body(&self) -> Vec<Probe> {
        let mut text = String::from("{\"content\": \"");
        text.push_str(&"x".repeat(OVERSIZED_BODY));
        text.push_str("\"}");
        match self.op.body {
            // A valid request with an unknown parameter, which RFC 6749
            // §3.1 says to ignore: served or refused as too large.
            Some(BodyKind::Form) => vec![Probe {
                must_refuse: false,
                ..self.form(
                    "a 1 MiB form",
                    format!(
                        "grant_type=client_credentials&pad={}",
                        "x".repeat(OVERSIZED_BODY)
                    )
                    .into_bytes(),
                )
            }],
            _ => vec![self.json("a 1 MiB JSON body", text.into_bytes())],
        }
    }

    fn wrong_content_type(&self) -> Vec<Probe> {
        let (content_type, bytes) = match self.op.body {
            Some(BodyKind::Form) => (
                "application/json",
                b"{\"grant_type\": \"client_credentials\"}".to_vec(),
            ),
            _ => ("text/plain", self.valid.to_string().into_bytes()),
        };
        vec![
            // The contract's allowed alternatives: 415 or 400.
            Probe {
                what: format!("a valid body sent as {content_type}"),
                body: Some((content_type.to_owned(), bytes.clone())),
                refusals: &[400, 415],
                ..self.base.clone()
            },
            // The contract allows processing a body that declares no
            // type (or refusing it with 415): only no 5xx and, when
            // refused, the contract's body.
            Probe {
                what: "a body without a content type".to_owned(),
                body: Some((String::new(), bytes)),
                must_refuse: false,
                ..self.base.clone()
            },
        ]
    }

    fn generated_bodies(&self) -> Vec<Probe> {
        generated_bodies(self.context, self.op)
            .into_iter()
            .map(|body| Probe {
                must_refuse: false,
                ..self.json(
                    &format!("generated body {body}"),
                    body.to_string().into_bytes(),
                )
            })
            .collect()
    }

    fn malformed_form(&self) -> Vec<Probe> {
        [
            "%zz=%",
            "=&&=",
            "grant_type",
            "grant_type=client_credentials&scope=%",
        ]
        .iter()
        .map(|text| self.form(&format!("form {text:?}"), text.as_bytes().to_vec()))
        .collect()
    }

    fn bad_path_params(&self) -> Vec<Probe> {
        let long = "a".repeat(2000);
        let mut all = Vec::new();
        for param in &self.op.path_params {
            for (what, bad) in [
                ("not a UUID", "not-a-uuid"),
                ("a percent-encoded byte that is no UTF-8", "%FF%FE"),
                ("2000 characters", long.as_str()),
                (
                    "a UUID with a trailing dot",
                    "0193a1c0-0000-7000-8000-00000000000a.",
                ),
            ] {
                all.push(Probe {
                    what: format!("{{{param}}} = {what}"),
                    url: url(self.context, self.op, &[(param.as_str(), bad)]),
                    ..self.base.clone()
                });
            }
        }
        all
    }

    fn bad_query(&self) -> Vec<Probe> {
        let mut all = Vec::new();
        for param in &self.op.query_params {
            for bad in [
                "abc",
                "-1",
                "0",
                "101",
                "99999999999999999999999",
                "%FF",
                "!!!",
                "1e3",
            ] {
                // `before` is a cursor whose form the contract leaves
                // open: a server may refuse a malformed one or ignore
                // it, but never fail.
                let cursor = param == "before";
                if cursor && !matches!(bad, "abc" | "%FF" | "!!!" | "-1") {
                    continue;
                }
                all.push(Probe {
                    what: format!("?{param}={bad}"),
                    url: format!("{}?{param}={bad}", self.base.url),
                    must_refuse: !cursor,
                    ..self.base.clone()
                });
            }
        }
        all
    }

    fn bad_header_params(&self) -> Vec<Probe> {
        let mut all = Vec::new();
        for param in &self.op.header_params {
            for (what, bad) in [
                ("empty", Vec::new()),
                ("256 characters", vec![b'k'; 256]),
                ("not ASCII", "schlüssel".as_bytes().to_vec()),
                ("with a space inside", b"two words".to_vec()),
            ] {
                let mut headers = self.base.headers.clone();
                headers.push((param.clone(), bad));
                // The contract says nothing of the key's form: these
                // may be taken or refused, never a 5xx.
                all.push(Probe {
                    what: format!("{param}: {what}, with a valid body"),
                    must_refuse: false,
                    headers,
                    body: Some((
                        "application/json".to_owned(),
                        self.valid.to_string().into_bytes(),
                    )),
                    ..self.base.clone()
                });
            }
        }
        all
    }

    fn oversized_header(&self) -> Vec<Probe> {
        let mut headers = self.base.headers.clone();
        headers.push((
            "x-conformance-fuzz".to_owned(),
            vec![b'a'; OVERSIZED_HEADER],
        ));
        vec![Probe {
            what: "a 64 KiB header".to_owned(),
            headers,
            must_refuse: false,
            ..self.base.clone()
        }]
    }

    fn non_utf8_header(&self) -> Vec<Probe> {
        let mut with_extra = self.base.headers.clone();
        with_extra.push(("x-conformance-fuzz".to_owned(), vec![0xff, 0xfe]));
        let mut probes = vec![Probe {
            what: "an extra header with bytes 0xff 0xfe".to_owned(),
            headers: with_extra,
            must_refuse: false,
            ..self.base.clone()
        }];
        if self.op.security != Security::None {
            probes.push(Probe {
                what: "Authorization: Bearer with bytes 0xff 0xfe".to_owned(),
                headers: vec![(
                    "authorization".to_owned(),
                    [b"Bearer ".as_slice(), &[0xff, 0xfe]].concat(),
                )],
                must_refuse: true,
                ..self.base.clone()
            });
        }
        probes
    }
}
