//! A step's request, prepared from the scenario's values: its URL,
//! credentials and body; and the curl line that sends it again.

use crate::run::redact::Secrets;
use crate::sources::scenario::{Auth, Body, Service, Step, Vars, render, render_value};

use super::{Failure, Prepared, Runner};

pub(super) fn form_encode(pairs: &[(String, String)]) -> String {
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    reference_shared::form::body(&pairs)
}

/// Quotes for a POSIX shell after redacting: single quotes, unless a
/// `$PLACEHOLDER` must expand, then double quotes.
pub(super) fn shell_quote(text: &str, secrets: &Secrets) -> String {
    let text = secrets.redact(text);
    if text.contains('$') {
        let escaped: String = text
            .chars()
            .flat_map(|c| match c {
                '"' | '\\' | '`' => vec!['\\', c],
                other => vec![other],
            })
            .collect();
        format!("\"{escaped}\"")
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A curl command that sends the same request; secrets appear as shell
/// variables (`$ALICE_TOKEN`) for the reader to set.
pub(super) fn curl_line(prepared: &Prepared, secrets: &Secrets) -> String {
    let shell_quote = |text: &str| shell_quote(text, secrets);
    let mut parts = vec![
        "curl -sS -i".to_owned(),
        format!("-X {}", prepared.method),
        shell_quote(&prepared.url),
    ];
    for (name, value) in &prepared.headers {
        parts.push(format!("-H {}", shell_quote(&format!("{name}: {value}"))));
    }
    if let Some((content_type, body)) = &prepared.body {
        if !content_type.is_empty()
            && !prepared
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            parts.push(format!(
                "-H {}",
                shell_quote(&format!("Content-Type: {content_type}"))
            ));
        }
        parts.push(format!("--data-raw {}", shell_quote(body)));
    }
    parts.join(" ")
}

impl Runner {
    pub(super) async fn prepare(&self, step: &Step, vars: &Vars) -> Result<Prepared, Failure> {
        let rendered = |s: &str| {
            render(s, vars).map_err(|e| Failure::plain(format!("cannot build the request: {e}")))
        };
        let request = &step.request;
        let base = match request.service {
            Service::Auth => &self.target.auth_url,
            Service::Chat => &self.target.chat_url,
            Service::Recorder => self.target.faults.as_ref().ok_or_else(|| {
                Failure::plain("no recorder between the services takes fault orders here")
            })?,
        };
        let mut url = format!("{base}{}", rendered(&request.path)?);
        if !request.query.is_empty() {
            let mut parsed = reqwest::Url::parse(&url)
                .map_err(|e| Failure::plain(format!("cannot build the request: {e}")))?;
            for (name, value) in &request.query {
                parsed
                    .query_pairs_mut()
                    .append_pair(name, &rendered(value)?);
            }
            url = parsed.to_string();
        }
        let method = reqwest::Method::from_bytes(request.method.as_bytes())
            .map_err(|_| Failure::plain(format!("{} is no HTTP method", request.method)))?;
        let (mut headers, form_extra) = self.authorization(step, vars).await?;
        for (name, value) in &request.headers {
            headers.push((name.clone(), rendered(value)?));
        }
        let body = match &request.body {
            Body::Empty if form_extra.is_empty() => None,
            Body::Empty => Some((
                "application/x-www-form-urlencoded".to_owned(),
                form_encode(&form_extra),
            )),
            Body::Json(value) => {
                let value = render_value(value, vars)
                    .map_err(|e| Failure::plain(format!("cannot build the request: {e}")))?;
                Some(("application/json".to_owned(), value.to_string()))
            }
            Body::Form(pairs) => {
                let mut all = pairs
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), rendered(v)?)))
                    .collect::<Result<Vec<_>, Failure>>()?;
                all.extend(form_extra);
                Some((
                    "application/x-www-form-urlencoded".to_owned(),
                    form_encode(&all),
                ))
            }
            Body::Raw { content_type, text } => {
                Some((content_type.clone().unwrap_or_default(), rendered(text)?))
            }
        };
        Ok(Prepared {
            method,
            url,
            headers,
            body,
        })
    }

    /// The step's credentials: an `Authorization` header, or the client's
    /// id and secret for the form body.
    async fn authorization(
        &self,
        step: &Step,
        vars: &Vars,
    ) -> Result<(Vec<(String, String)>, Vec<(String, String)>), Failure> {
        let rendered = |s: &str| {
            render(s, vars).map_err(|e| Failure::plain(format!("cannot build the request: {e}")))
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut form_extra: Vec<(String, String)> = Vec::new();
        match &step.auth {
            Auth::Anonymous => {}
            Auth::User(name) => headers.push((
                "Authorization".to_owned(),
                format!("Bearer {}", self.user_token(name).await?),
            )),
            Auth::Service { client, scope } => {
                let token = self.service_token(client, scope.as_deref()).await?;
                headers.push(("Authorization".to_owned(), format!("Bearer {token}")));
            }
            Auth::Basic(name) => headers.push(("Authorization".to_owned(), self.basic(name)?)),
            Auth::BasicWith { id, secret } => {
                let value =
                    reference_shared::form::basic_authorization(&rendered(id)?, &rendered(secret)?);
                self.client.secrets().add(&value, "Basic $CLIENT_BASIC");
                headers.push(("Authorization".to_owned(), value));
            }
            Auth::Form(name) => {
                let client = self.client(name)?;
                form_extra.push(("client_id".to_owned(), client.id.clone()));
                form_extra.push((
                    "client_secret".to_owned(),
                    client.secret.expose().to_owned(),
                ));
            }
            Auth::Bearer(token) => headers.push((
                "Authorization".to_owned(),
                format!("Bearer {}", rendered(token)?),
            )),
        }
        Ok((headers, form_extra))
    }
}
