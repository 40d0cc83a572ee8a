//! What the recorder between the services saw of a step, and the counts the
//! step's observation asks for.

use crate::checking::expect::Mismatch;
use crate::error::HarnessError;
use crate::run::client::Outgoing;
use crate::run::hop::Hop;
use crate::sources::scenario::{Observe, Step, Window};

use super::{ObservationProbe, Runner, ScenarioCalls};

impl Runner {
    /// What the recorder between the services sees of a listing, which
    /// makes the chat-api call the auth-api (to check membership): whether
    /// it sees the chat-api's calls at all, and whether they carry the
    /// harness's `traceparent`. Nothing to probe when nothing records.
    pub(super) async fn probe_observation(&self) -> Result<ObservationProbe, HarnessError> {
        let unprobed = ObservationProbe {
            traced: true,
            blind: None,
        };
        let Some(observer) = &self.target.observer else {
            return Ok(unprobed);
        };
        let Ok(token) = self.user_token("alice").await else {
            return Ok(unprobed);
        };
        let path = format!(
            "/api/chat/groups/{}/messages?limit=1",
            self.accounts.group_id
        );
        let probe = Outgoing::new(
            "chat-api",
            reqwest::Method::GET,
            format!("{}{path}", self.target.chat_url),
        )
        .bearer(&token);
        let Ok((_, hop)) = self.client.send(&probe).await else {
            return Ok(unprobed);
        };
        let recorded = observer
            .hops(self.client.http())
            .await
            .map_err(|e| HarnessError::Config(format!("--observe: {e}")))?;
        let seen = recorded.iter().any(|h| hop.caused(h) || hop.in_flight(h));
        Ok(ObservationProbe {
            traced: recorded
                .iter()
                .any(|h| h.trace.is_some() && h.trace == hop.trace),
            blind: (!seen).then(|| {
                format!(
                    "the recorder saw no call of the chat-api while it answered a listing \
                     ({path}): it does not stand between the chat-api and the auth-api, so \
                     calls between them cannot be judged (is the chat-api's auth-api URL the \
                     proxy's?)"
                )
            }),
        })
    }

    /// Everything the recorder between the services has seen, read once
    /// per step and only when the step needs it (it went to the chat-api,
    /// or it observes); `None` when nothing records the calls.
    pub(super) async fn recorded(
        &self,
        own: &[Hop],
        step: &Step,
    ) -> Result<Option<Vec<Hop>>, String> {
        let Some(observer) = self.target.observer.as_ref() else {
            return Ok(None);
        };
        let needed = step.observe.is_some() || own.iter().any(|h| h.to == "chat-api");
        Ok(Some(if needed {
            observer.hops(self.client.http()).await?
        } else {
            Vec::new()
        }))
    }

    /// The calls the chat-api made to the auth-api for these requests of the
    /// harness: by trace id when it passed the harness's on, else by time.
    /// Each request is followed by the calls it caused. Also says how the
    /// calls were attributed, when any were.
    pub(super) fn hops_of(own: &[Hop], recorded: &[Hop]) -> (Vec<Hop>, Option<&'static str>) {
        let mut hops = Vec::new();
        let mut by_time = false;
        let mut any = false;
        for hop in own {
            hops.push(hop.clone());
            if hop.to != "chat-api" {
                continue;
            }
            for r in recorded {
                if hop.caused(r) {
                    any = true;
                    by_time |= r.trace.is_none();
                    hops.push(r.clone());
                }
            }
        }
        let attribution = any.then_some(if by_time {
            "calls attributed by time: the chat-api did not pass the traceparent on"
        } else {
            "calls attributed by W3C trace id"
        });
        (hops, attribution)
    }

    /// Holds the observed calls to `observe`; how many matched. A step's
    /// window is the calls its requests caused (as [`Self::hops_of`]
    /// attributes them, so that a count and its diagram agree) and any
    /// other made while they were in flight.
    pub(super) fn observed(
        observe: &Observe,
        scenario: &ScenarioCalls,
        own: &[Hop],
        recorded: Option<&[Hop]>,
    ) -> Result<usize, Mismatch> {
        let recorded = recorded.ok_or_else(|| Mismatch {
            expected: "calls between the services to observe".to_owned(),
            actual: "nothing records them here".to_owned(),
        })?;
        let matching = || {
            recorded
                .iter()
                .filter(|h| observe.matches(&h.method, &h.path))
        };
        let calls: Vec<&Hop> = matching()
            .filter(|h| match observe.over {
                Window::Run => true,
                Window::Step => own.iter().any(|o| o.caused(h) || o.in_flight(h)),
                Window::Scenario => match &h.trace {
                    Some(trace) => scenario.traces.contains(trace),
                    None => h.started_ms >= scenario.started_ms,
                },
            })
            .collect();
        let what = format!(
            "{} {} from the chat-api to the auth-api",
            observe.method, observe.path
        );
        let count = calls.len();
        // "At most" counts only the calls the step surely caused: another
        // scenario's call made in the same moment is not this step's doing
        // (a key set fetch for another scenario's forged kid). Token
        // requests are the exception: a step that bounds them holds the
        // chat-api's token cache (`counts_token_requests`,
        // `drops_the_token`), so no other scenario makes the chat-api
        // fetch one while it runs, and every one made in flight is this
        // step's, whatever trace it carries: a chat-api that fetches a
        // token per message fetches under the trace of whichever request
        // came first, another scenario's as often as not. "At least"
        // counts those made in flight too: a single-flight fetch another
        // request began serves this step all the same.
        let caused = match observe.over {
            Window::Step if !observe.matches("POST", "/oauth/token") => matching()
                .filter(|h| own.iter().any(|o| o.caused(h)))
                .count(),
            Window::Step | Window::Run | Window::Scenario => count,
        };
        if let Some(most) = observe.at_most.filter(|most| caused > *most) {
            return Err(Mismatch {
                expected: format!("at most {most} {what}"),
                actual: format!("{caused} calls"),
            });
        }
        if let Some(least) = observe.at_least.filter(|least| count < *least) {
            return Err(Mismatch {
                expected: format!("at least {least} {what}"),
                actual: format!("{count} calls"),
            });
        }
        if let Some(credential) = &observe.credential
            && let Some(call) = calls
                .iter()
                .find(|h| h.credential.as_ref() != Some(credential))
        {
            return Err(Mismatch {
                expected: format!("every {what} made with a {credential}"),
                actual: format!(
                    "{} {} made with {}",
                    call.method,
                    call.path,
                    call.credential.as_deref().unwrap_or("no credentials")
                ),
            });
        }
        if let Some(scope) = &observe.scope
            && let Some(call) = calls.iter().find(|h| {
                !h.scope
                    .as_deref()
                    .is_some_and(|s| s.split(' ').any(|s| s == scope))
            })
        {
            return Err(Mismatch {
                expected: format!("every {what} asking for scope {scope}"),
                actual: format!(
                    "a call asking for {}",
                    call.scope
                        .as_deref()
                        .map_or("no scope".to_owned(), |s| format!("scope {s:?}"))
                ),
            });
        }
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(from: &str, method: &str, path: &str, started_ms: u64, duration_ms: u64) -> Hop {
        Hop {
            from: from.to_owned(),
            to: if from == "harness" {
                "chat-api"
            } else {
                "auth-api"
            }
            .to_owned(),
            method: method.to_owned(),
            path: path.to_owned(),
            status: 200,
            error: None,
            credential: None,
            scope: None,
            duration_ms,
            started_ms,
            trace: Some("4bf92f3577b34da6a3ce929d0e0e4736".to_owned()),
        }
    }

    /// The CI failure of issue 29: a send that took 2.9 ms from 1000.9 ms
    /// was stamped 1000 + 2, its token request, begun at 1003.0 ms by the
    /// recorder's clock, fell outside that window and counted 0, while the
    /// diagram, attributing by trace id, showed it. A count attributes as
    /// the diagram does.
    #[test]
    fn a_step_counts_the_calls_the_diagram_attributes_to_it() {
        let send = hop("harness", "POST", "/api/chat/groups/g/messages", 1000, 2);
        let token = hop("chat-api", "POST", "/oauth/token", 1003, 1);
        let observe = Observe {
            method: "POST".to_owned(),
            path: "/oauth/token".to_owned(),
            at_least: Some(1),
            over: Window::Step,
            ..Observe::default()
        };
        let scenario = ScenarioCalls {
            started_ms: 1000,
            traces: vec![send.trace.clone().unwrap()],
        };
        let recorded = [token];
        let (diagram, _) = Runner::hops_of(std::slice::from_ref(&send), &recorded);
        assert_eq!(diagram.len(), 2, "the diagram shows the token request");
        let counted = Runner::observed(&observe, &scenario, &[send], Some(&recorded));
        assert_eq!(counted.ok(), Some(1), "the count sees it too");
    }
}
