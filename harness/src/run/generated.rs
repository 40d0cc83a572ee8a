//! The generated sources of checks as tasks of a run: properties and
//! fuzzing, beside the scenarios.

use std::sync::Arc;

use crate::checking::outcome::CheckOutcome;
use crate::checking::verdict::Verdict;
use crate::error::HarnessError;
use crate::sources::fuzz;
use crate::sources::properties::{self, Property};

use super::{RunOptions, Runner, Task, schedule};

impl Runner {
    /// Runs the tasks, `jobs` at a time (see [`schedule`]).
    pub(super) async fn schedule(
        &self,
        tasks: Vec<Task<'_>>,
        jobs: usize,
        on_check: &(dyn Fn(&CheckOutcome) + Sync),
    ) -> Result<Vec<CheckOutcome>, HarnessError> {
        schedule(tasks, jobs, self.client.secrets(), on_check).await
    }

    /// The generated property checks, one task each; skipped without the
    /// admin token, which they need to register clients.
    pub(super) fn properties(&self, options: &RunOptions) -> Vec<Task<'_>> {
        let context = self
            .target
            .admin_token
            .as_ref()
            .map(|admin| properties::Context {
                client: self.client.clone(),
                auth_url: self.target.auth_url.clone(),
                chat_url: self.target.chat_url.clone(),
                admin: admin.clone(),
                group_id: self.accounts.group_id.clone(),
                run: self.accounts.run.clone(),
                created: Arc::clone(&options.created),
            });
        Property::ALL
            .into_iter()
            .filter(|p| options.selects_property(*p))
            .map(|property| -> Task<'_> {
                let context = context.clone();
                let cases = options.properties;
                Box::pin(async move {
                    let verdict = match context {
                        Some(context) => properties::check(context, property, cases)
                            .await
                            .map_err(|why| HarnessError::Task {
                                name: property.id().to_owned(),
                                why,
                            })?,
                        None => {
                            Verdict::skipped("needs the admin token to register generated clients")
                        }
                    };
                    Ok(vec![(properties::spec(property), verdict)])
                })
            })
            .collect()
    }

    /// Bad input for every operation of the contract's OpenAPI documents,
    /// one task per check.
    pub(super) async fn fuzz(&self, options: &RunOptions) -> Vec<Task<'_>> {
        let context = Arc::new(fuzz::Context {
            client: self.client.clone(),
            auth_url: self.target.auth_url.clone(),
            chat_url: self.target.chat_url.clone(),
            user_token: self.user_token("alice").await.ok(),
            admin_token: self.target.admin_token.clone(),
            basic: self.basic("reader").ok(),
            group_id: self.accounts.group_id.clone(),
            cases: options.properties.cases,
            seed: options.properties.seed,
        });
        fuzz::selected(|id| options.selects_fuzz(id))
            .into_iter()
            .map(|check| -> Task<'_> {
                let context = Arc::clone(&context);
                Box::pin(async move {
                    // A user token with life left for each check: a run may
                    // outlast one, and an expired token would make every
                    // probe a refusal of the caller, not of the input.
                    let context = fuzz::Context {
                        user_token: self.user_token("alice").await.ok(),
                        ..(*context).clone()
                    };
                    let verdict = fuzz::check(&context, &check).await;
                    Ok(vec![(check.spec(), verdict)])
                })
            })
            .collect()
    }
}
