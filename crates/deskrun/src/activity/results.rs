//! The results of finished jobs, read from GitHub's API with the credentials of the
//! installation the job's scale set belongs to: the installation's token, or a token of its
//! GitHub App installation. Nothing in the cluster records a job's result.
//!
//! It does not decide when a job finished (the tracker does) and never fails: whatever keeps
//! it from an answer (no credentials, no network, no job ID, a token that may not read
//! Actions) makes the result [`JobResult::Unknown`], logged without any credential.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jiff::Timestamp;

use super::{ActivityEvent, Job, JobResult};
use crate::config::Config;
use crate::github::{self, Credential, GitHubApi, WorkflowJob};
use crate::secrets::{Secret, SecretStore};
use crate::spec::Auth;

/// How long an App installation token is reused; GitHub lets it live an hour.
const TOKEN_REUSE: Duration = Duration::from_secs(50 * 60);

/// The pauses before asking again when GitHub has not marked the job completed yet (the
/// runner reports the end a moment before its pod stops, but GitHub may lag).
const RETRY_DELAYS: [Duration; 3] =
    [Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4)];

/// The longest a finished job waits for its result: the tray must not stay busy for long.
const DEADLINE: Duration = Duration::from_secs(15);

/// Reads the results of finished jobs from GitHub; see the module documentation.
#[derive(Debug, Clone)]
pub struct JobResults {
    inner: Option<Arc<Lookup>>,
}

#[derive(Debug)]
struct Lookup {
    /// How to ask about each scale set's jobs; replaced when the installations change.
    by_scale_set: RwLock<HashMap<String, Arc<Access>>>,
    secrets: SecretSource,
    retry: Vec<Duration>,
    /// App installation tokens by installation name, with when to stop reusing them.
    tokens: tokio::sync::Mutex<HashMap<String, (Secret, Timestamp)>>,
}

/// How to reach GitHub for one installation.
#[derive(Debug)]
struct Access {
    installation: String,
    auth: Auth,
    api: GitHubApi,
}

#[derive(Debug)]
enum SecretSource {
    Keyring(SecretStore),
    #[cfg(test)]
    Fixed(Secret),
}

/// What one question to GitHub gave.
enum Answer {
    /// The job, completed.
    Completed(WorkflowJob),
    /// Not completed, or not listed yet: ask again later.
    NotYet,
    /// No way to ask.
    Cannot,
}

impl JobResults {
    /// Never asks GitHub: every result is [`JobResult::Unknown`].
    pub fn none() -> Self {
        Self { inner: None }
    }

    /// Asks GitHub about the jobs of every scale set of `config`'s installations, with their
    /// credentials from `secrets`, at the API of each installation's URL (or at
    /// [`github::API_URL_ENV`] when it is set).
    pub fn from_config(config: &Config, secrets: SecretStore) -> Self {
        Self::with(accesses(config), SecretSource::Keyring(secrets), RETRY_DELAYS.to_vec())
    }

    /// From now on, asks about the scale sets of `config`'s installations: runners were
    /// added, removed or given other credentials while the watch goes on.
    pub fn follow(&self, config: &Config) {
        if let Some(lookup) = &self.inner {
            let mut by_scale_set =
                lookup.by_scale_set.write().unwrap_or_else(PoisonError::into_inner);
            *by_scale_set = accesses(config);
        }
    }

    /// Asks the GitHub at `api_base` about scale set `scale_set`'s jobs with a fixed PAT
    /// (for tests of what waits on the answer).
    #[cfg(test)]
    pub(crate) fn fixed(scale_set: &str, api_base: &str, token: &str) -> Self {
        let access = Arc::new(Access {
            installation: scale_set.to_owned(),
            auth: Auth::Pat,
            api: GitHubApi::with_base(api_base),
        });
        let by_scale_set = HashMap::from([(scale_set.to_owned(), access)]);
        Self::with(by_scale_set, SecretSource::Fixed(Secret::from(token.to_owned())), Vec::new())
    }

    fn with(
        by_scale_set: HashMap<String, Arc<Access>>,
        secrets: SecretSource,
        retry: Vec<Duration>,
    ) -> Self {
        let tokens = tokio::sync::Mutex::new(HashMap::new());
        let by_scale_set = RwLock::new(by_scale_set);
        Self { inner: Some(Arc::new(Lookup { by_scale_set, secrets, retry, tokens })) }
    }

    /// Completes a `JobFinished` event with GitHub's result and times; other events pass
    /// through.
    pub(crate) async fn resolve(&self, event: ActivityEvent) -> ActivityEvent {
        let ActivityEvent::JobFinished { mut job, result, duration } = event else {
            return event;
        };
        let Some(lookup) = &self.inner else {
            return ActivityEvent::JobFinished { job, result, duration };
        };
        let asked = tokio::time::timeout(DEADLINE, lookup.completed(&job)).await;
        let Ok(Some(found)) = asked else {
            return ActivityEvent::JobFinished { job, result, duration };
        };
        let result =
            found.conclusion.as_deref().map_or(JobResult::Unknown, JobResult::from_conclusion);
        let duration = match (found.started_at, found.completed_at) {
            (Some(start), Some(end)) => {
                job.started_at = start;
                Duration::try_from(end.duration_since(start)).ok()
            }
            _ => duration,
        };
        ActivityEvent::JobFinished { job, result, duration }
    }
}

/// How to reach GitHub for the jobs of each scale set of `config`'s installations.
fn accesses(config: &Config) -> HashMap<String, Arc<Access>> {
    let mut by_scale_set = HashMap::new();
    for inst in config.installations.values() {
        let access = Arc::new(Access {
            installation: inst.name.clone(),
            auth: inst.auth.clone(),
            api: GitHubApi::for_url(&inst.repository),
        });
        for set in inst.scale_sets() {
            by_scale_set.insert(set.name, Arc::clone(&access));
        }
    }
    by_scale_set
}

impl Lookup {
    /// The job as GitHub describes it once completed, or `None` when that cannot be known.
    async fn completed(&self, job: &Job) -> Option<WorkflowJob> {
        let access = {
            let by_scale_set = self.by_scale_set.read().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(by_scale_set.get(&job.scale_set)?)
        };
        let access = &*access;
        let (bearer, credential) = self.bearer(access).await?;
        let mut delays = self.retry.iter();
        loop {
            match self.ask(access, job, &bearer, credential).await {
                Answer::Completed(found) => return Some(found),
                Answer::Cannot => return None,
                Answer::NotYet => tokio::time::sleep(*delays.next()?).await,
            }
        }
    }

    async fn ask(
        &self,
        access: &Access,
        job: &Job,
        bearer: &Secret,
        credential: Credential,
    ) -> Answer {
        let api = &access.api;
        let repository = job.repository.as_str();
        let asked = match (
            job.job_id.as_deref().and_then(|id| id.parse::<u64>().ok()),
            job.workflow_run_id,
        ) {
            (Some(id), _) => api.workflow_job(repository, id, bearer, credential).await.map(Some),
            // NB: ARC's jobId is not always the REST API's job ID; the run's jobs name the
            // runner that ran each, which is the EphemeralRunner.
            (None, Some(run)) => {
                let run = u64::try_from(run).unwrap_or_default();
                api.run_jobs(repository, run, bearer, credential).await.map(|jobs| pick(jobs, job))
            }
            (None, None) => return Answer::Cannot,
        };
        match asked {
            Ok(Some(found)) if found.status == "completed" => Answer::Completed(found),
            Ok(_) => Answer::NotYet,
            Err(error) if retryable(&error) => {
                tracing::debug!(%error, "asking GitHub again for the job's result");
                Answer::NotYet
            }
            Err(error) => {
                tracing::warn!(
                    installation = %access.installation,
                    %error,
                    "cannot read the job's result from GitHub; it shows as finished"
                );
                Answer::Cannot
            }
        }
    }

    /// The credential to ask with: the installation's token, or a token of its App
    /// installation (reused while it lives).
    async fn bearer(&self, access: &Access) -> Option<(Secret, Credential)> {
        let Auth::GithubApp { app_id, installation_id } = &access.auth else {
            return Some((self.secret(&access.installation).await?, Credential::Token));
        };
        let mut tokens = self.tokens.lock().await;
        let now = Timestamp::now();
        if let Some((token, until)) = tokens.get(&access.installation)
            && now < *until
        {
            return Some((token.clone(), Credential::App));
        }
        let key = self.secret(&access.installation).await?;
        match access.api.installation_token(app_id, *installation_id, &key).await {
            Ok(token) => {
                tokens.insert(access.installation.clone(), (token.clone(), now + TOKEN_REUSE));
                Some((token, Credential::App))
            }
            Err(error) => {
                tracing::warn!(installation = %access.installation, %error, "no App token");
                None
            }
        }
    }

    async fn secret(&self, installation: &str) -> Option<Secret> {
        match &self.secrets {
            SecretSource::Keyring(store) => {
                let (store, name) = (store.clone(), installation.to_owned());
                // NB: the keyring is a blocking D-Bus call.
                let loaded = tokio::task::spawn_blocking(move || store.load(&name)).await;
                match loaded {
                    Ok(Ok(secret)) => Some(secret),
                    Ok(Err(error)) => {
                        tracing::warn!(installation, %error, "no credentials for job results");
                        None
                    }
                    Err(_) => None,
                }
            }
            #[cfg(test)]
            SecretSource::Fixed(secret) => Some(secret.clone()),
        }
    }
}

/// The run's job that `job` is: the one its runner ran, else the only one of its name.
fn pick(jobs: Vec<WorkflowJob>, job: &Job) -> Option<WorkflowJob> {
    let by_runner = jobs.iter().position(|j| j.runner_name.as_deref() == Some(&job.runner));
    if let Some(at) = by_runner {
        return jobs.into_iter().nth(at);
    }
    let mut named = jobs.into_iter().filter(|j| j.name == job.name);
    match (named.next(), named.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// Whether asking again soon may help: GitHub failing for a moment, not refusing. An API
/// that cannot be reached at all (offline, wrong address) is not asked again: the job
/// shows as finished at once.
fn retryable(error: &github::Error) -> bool {
    matches!(error, github::Error::UnexpectedStatus { status, .. } if *status >= 500)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const TOKEN: &str = "ghp_TEST0nly0results0token";

    fn results(server: &MockServer, retry: Vec<Duration>) -> JobResults {
        let access = Arc::new(Access {
            installation: "web".into(),
            auth: Auth::Pat,
            api: GitHubApi::with_base(&server.uri()),
        });
        let by_scale_set = HashMap::from([("web".to_owned(), access)]);
        JobResults::with(by_scale_set, SecretSource::Fixed(Secret::from(TOKEN.to_owned())), retry)
    }

    fn job(job_id: Option<&str>) -> Job {
        Job {
            scale_set: "web".into(),
            runner: "web-abc-runner-1".into(),
            job_id: job_id.map(str::to_owned),
            job_request_id: Some(1001),
            name: "build (ubuntu)".into(),
            repository: "acme/web".into(),
            workflow_ref: None,
            workflow_run_id: Some(4242),
            run_url: None,
            started_at: "2026-01-02T03:00:00Z".parse().unwrap(),
        }
    }

    fn finished(job: Job) -> ActivityEvent {
        ActivityEvent::JobFinished { job, result: JobResult::Unknown, duration: None }
    }

    fn completed(conclusion: &str) -> serde_json::Value {
        json!({"id": 77, "name": "build (ubuntu)", "status": "completed",
               "conclusion": conclusion, "runner_name": "web-abc-runner-1",
               "started_at": "2026-01-02T03:04:05Z", "completed_at": "2026-01-02T03:06:15Z"})
    }

    #[tokio::test]
    async fn the_conclusion_and_times_come_from_the_job_by_id() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/repos/acme/web/actions/jobs/77"))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(completed("failure")))
            .expect(1)
            .mount(&server)
            .await;
        let event = results(&server, vec![]).resolve(finished(job(Some("77")))).await;
        let ActivityEvent::JobFinished { job, result, duration } = event else { unreachable!() };
        assert_eq!(result, JobResult::Failed);
        assert_eq!(duration, Some(Duration::from_secs(130)), "GitHub's clock: 2m10s");
        assert_eq!(job.started_at.to_string(), "2026-01-02T03:04:05Z");
    }

    #[tokio::test]
    async fn a_job_still_in_progress_is_asked_again() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/repos/acme/web/actions/jobs/77"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": 77, "status": "in_progress", "conclusion": null})),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/repos/acme/web/actions/jobs/77"))
            .respond_with(ResponseTemplate::new(200).set_body_json(completed("success")))
            .mount(&server)
            .await;
        let retry = vec![Duration::from_millis(10)];
        let event = results(&server, retry).resolve(finished(job(Some("77")))).await;
        assert!(matches!(event, ActivityEvent::JobFinished { result: JobResult::Succeeded, .. }));
    }

    #[tokio::test]
    async fn without_a_numeric_job_id_the_runs_jobs_name_the_runner() {
        let server = MockServer::start().await;
        let other = json!({"id": 1, "name": "build (ubuntu)", "status": "completed",
                           "conclusion": "success", "runner_name": "someone-else"});
        Mock::given(method("GET"))
            .and(path("/repos/acme/web/actions/runs/4242/jobs"))
            .and(query_param("filter", "latest"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(
                    json!({"total_count": 2, "jobs": [other, completed("cancelled")]}),
                ),
            )
            .expect(1)
            .mount(&server)
            .await;
        let guid = "4f0c3d2e-0000-4000-8000-000000000000";
        let event = results(&server, vec![]).resolve(finished(job(Some(guid)))).await;
        assert!(
            matches!(event, ActivityEvent::JobFinished { result: JobResult::Cancelled, .. }),
            "the job its runner ran, not the other of the same name: {event:?}"
        );
    }

    #[tokio::test]
    async fn no_answer_is_an_unknown_result_not_a_failure() {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(403).set_body_json(
                json!({"message": "Resource not accessible by personal access token"}),
            ))
            .mount(&server)
            .await;
        let cases = [
            results(&server, vec![]).resolve(finished(job(Some("77")))).await,
            JobResults::none().resolve(finished(job(Some("77")))).await,
            results(&server, vec![])
                .resolve(finished(Job { scale_set: "other".into(), ..job(None) }))
                .await,
        ];
        for event in cases {
            assert!(
                matches!(event, ActivityEvent::JobFinished { result: JobResult::Unknown, .. }),
                "{event:?}"
            );
        }
    }

    #[test]
    fn from_config_maps_every_instance_to_its_installation() {
        let mut config = Config::default();
        let inst: crate::spec::Installation = serde_json::from_value(json!({
            "name": "ci", "repository": "https://github.com/acme/web", "min_runners": 1,
            "max_runners": 1, "instances": 2, "auth": {"type": "pat"}}))
        .unwrap();
        config.installations.insert("ci".into(), inst);
        let results = JobResults::from_config(&config, SecretStore::from_env());
        assert_eq!(scale_sets(&results), ["ci-1", "ci-2"]);
        let lookup = results.inner.as_ref().unwrap();
        assert_eq!(lookup.by_scale_set.read().unwrap()["ci-1"].installation, "ci");
    }

    /// The app's watch outlives config changes (restarting it would miss the jobs that end
    /// meanwhile), so a runner added later must still get its jobs' results.
    #[test]
    fn following_a_changed_config_asks_about_the_new_runners() {
        let installation = |name: &str| -> crate::spec::Installation {
            serde_json::from_value(json!({
                "name": name, "repository": "https://github.com/acme/web", "min_runners": 1,
                "max_runners": 1, "instances": 1, "auth": {"type": "pat"}}))
            .unwrap()
        };
        let mut config = Config::default();
        config.installations.insert("old".into(), installation("old"));
        let results = JobResults::from_config(&config, SecretStore::from_env());
        let shared = results.clone();
        config.installations.clear();
        config.installations.insert("new".into(), installation("new"));
        shared.follow(&config);
        assert_eq!(scale_sets(&results), ["new"], "every copy follows; the old one is gone");
    }

    fn scale_sets(results: &JobResults) -> Vec<String> {
        let lookup = results.inner.as_ref().unwrap();
        let mut sets: Vec<String> = lookup.by_scale_set.read().unwrap().keys().cloned().collect();
        sets.sort();
        sets
    }
}
