//! Which scenarios take turns: what runs alone when calls carry no trace
//! id, and who holds the chat-api's token cache.

use crate::sources::scenario::{Scenario, Step};

/// Whether a scenario runs alone, after the others. Without trace
/// propagation (`untraced`) the calls between the services can only be
/// attributed by time: every scenario that counts them does, so that no
/// other scenario's calls mix in. With it, each counted call is
/// attributed to the request that caused it, and nothing runs alone.
pub(super) fn runs_alone(scenario: &Scenario, untraced: bool) -> bool {
    untraced && scenario.steps.iter().any(|step| step.observe.is_some())
}

/// Whether a step has the recorder answer the chat-api's group calls 401
/// (`fault.unauthorized`): the chat-api drops its cached service token, as
/// the contract wants, and the next send of any scenario fetches one.
pub(super) fn drops_the_token(step: &Step) -> bool {
    step.refers_to()
        .iter()
        .any(|name| name.starts_with("fault.unauthorized."))
}

/// Whether a scenario bounds the chat-api's token requests ("three more
/// messages make none") in a step that does not itself drop the token: a
/// drop by another scenario before or during it would make one of its
/// own sends fetch, as the contract wants, and fail it for nothing. It
/// holds the token cache for its whole run, and the steps that drop the
/// token wait for it; every other scenario runs beside both.
pub(super) fn counts_token_requests(scenario: &Scenario) -> bool {
    scenario.steps.iter().any(|step| {
        !drops_the_token(step)
            && step
                .observe
                .as_ref()
                .is_some_and(|o| o.at_most.is_some() && o.matches("POST", "/oauth/token"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With trace ids nothing runs alone; without, what observes does.
    /// The token cache is held by the scenario that bounds token requests
    /// and by the steps that drop the token, nothing else.
    #[test]
    fn only_the_token_cache_is_taken_in_turns_when_calls_carry_trace_ids() {
        let scenarios = crate::sources::scenario::bundled().unwrap();
        let by_id = |id: &str| scenarios.iter().find(|s| s.id == id).unwrap();
        for id in [
            "core.chat.token-reuse",
            "core.chat.upstream",
            "strict.jwks-refresh",
        ] {
            assert!(!runs_alone(by_id(id), false), "{id}");
            assert!(runs_alone(by_id(id), true), "{id}");
        }
        assert!(!runs_alone(by_id("core.own-group"), true));
        assert!(counts_token_requests(by_id("core.chat.token-reuse")));
        assert!(!counts_token_requests(by_id("core.chat.upstream")));
        assert!(!counts_token_requests(by_id("core.own-group")));
        let upstream = by_id("core.chat.upstream");
        let dropping: Vec<&str> = upstream
            .steps
            .iter()
            .filter(|s| drops_the_token(s))
            .filter_map(|s| s.check.as_ref().map(|c| c.id.as_str()))
            .collect();
        assert_eq!(
            dropping,
            [
                "core.chat.upstream.unauthorized-retry",
                "core.chat.upstream.unauthorized-new-token"
            ]
        );
    }
}
