//! Reading the runners' state back from the cluster: AutoscalingRunnerSets,
//! EphemeralRunnerSets, EphemeralRunners and listener pods, folded into one
//! [`RunnerStatus`] per scale set. Read-only: it never writes to the cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde::{Deserialize, Serialize};

use crate::ARC_NAMESPACE;
use crate::cluster::ClusterHandle;
use crate::config::Config;

/// The label ARC puts on runner sets, runners and listener pods.
pub const SCALE_SET_NAME_LABEL: &str = "actions.github.com/scale-set-name";

/// The label value ARC gives listener pods under `app.kubernetes.io/component`.
pub const LISTENER_COMPONENT: &str = "runner-scale-set-listener";

/// Errors reading status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A list call failed.
    #[error("cannot list {kind} in namespace {ARC_NAMESPACE}")]
    List {
        /// What was listed.
        kind: &'static str,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The state of one scale set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunnerStatus {
    /// The scale set name (`runs-on:` target).
    pub name: String,
    /// The installation it belongs to, when it is in the config.
    pub installation: Option<String>,
    /// Whether its AutoscalingRunnerSet exists in the cluster.
    pub deployed: bool,
    /// The scale set phase ARC reports, or `NotDeployed`/`Unknown`.
    pub phase: String,
    /// The listener pod's state: `Running`, `Pending`, `CrashLoopBackOff`, `Missing`, ….
    pub listener: String,
    /// Runners running.
    pub running: u32,
    /// Runners pending.
    pub pending: u32,
    /// Runners failed.
    pub failed: u32,
    /// The jobs runners are running now.
    pub jobs: Vec<JobStatus>,
}

/// A job a runner is running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    /// The EphemeralRunner running it.
    pub runner: String,
    /// The job's display name.
    pub job: String,
    /// `owner/repo`.
    pub repository: String,
    /// The workflow run, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workflow_run_id: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SetStatus {
    phase: Option<String>,
    state: Option<String>,
    running_ephemeral_runners: Option<u32>,
    pending_ephemeral_runners: Option<u32>,
    failed_ephemeral_runners: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct RunnerState {
    phase: Option<String>,
    job_display_name: Option<String>,
    job_repository_name: Option<String>,
    workflow_run_id: Option<i64>,
}

fn resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("actions.github.com", "v1alpha1", kind))
}

/// Reads the status of every scale set in the cluster and in `config`, optionally only
/// those of installation (or scale set) `only`.
#[tracing::instrument(skip_all, fields(context = cluster.context()), err)]
pub async fn read(
    cluster: &ClusterHandle,
    config: &Config,
    only: Option<&str>,
) -> Result<Vec<RunnerStatus>> {
    let client = cluster.client().clone();
    let list = |kind: &'static str| {
        let api: kube::Api<DynamicObject> =
            kube::Api::namespaced_with(client.clone(), ARC_NAMESPACE, &resource(kind));
        async move {
            match api.list(&ListParams::default()).await {
                Ok(list) => Ok(list.items),
                // NB: before the controller is installed the CRDs do not exist yet.
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(Vec::new()),
                Err(source) => Err(Error::List { kind, source }),
            }
        }
    };
    let (sets, runner_sets, runners) = futures::try_join!(
        list("AutoscalingRunnerSet"),
        list("EphemeralRunnerSet"),
        list("EphemeralRunner")
    )?;
    let pods: kube::Api<Pod> = kube::Api::namespaced(client, ARC_NAMESPACE);
    let selector = format!("app.kubernetes.io/component={LISTENER_COMPONENT}");
    let listeners = match pods.list(&ListParams::default().labels(&selector)).await {
        Ok(list) => list.items,
        Err(kube::Error::Api(status)) if status.code == 404 => Vec::new(),
        Err(source) => {
            return Err(Error::List { kind: "Pod", source });
        }
    };

    let mut wanted = configured(config);
    for set in &sets {
        wanted.entry(set.metadata.name.clone().unwrap_or_default()).or_insert(None);
    }
    let statuses = selected(wanted, only)
        .map(|(name, installation)| {
            let set = sets.iter().find(|s| s.metadata.name.as_deref() == Some(&name));
            let runner_set = runner_sets.iter().find(|s| label_of(s) == Some(&name));
            fold(name, installation, set, runner_set, &runners, &listeners)
        })
        .collect();
    Ok(statuses)
}

/// The status of every scale set in `config` (optionally only those of installation or
/// scale set `only`) when there is no cluster to read: configured, not deployed.
pub fn not_deployed(config: &Config, only: Option<&str>) -> Vec<RunnerStatus> {
    selected(configured(config), only)
        .map(|(name, installation)| fold(name, installation, None, None, &[], &[]))
        .collect()
}

/// Every scale set `config` asks for, by name, with its installation.
fn configured(config: &Config) -> BTreeMap<String, Option<String>> {
    config
        .installations
        .values()
        .flat_map(|inst| {
            inst.scale_sets().into_iter().map(|set| (set.name, Some(inst.name.clone())))
        })
        .collect()
}

/// The scale sets of `wanted` that `only` (a scale set or installation name) selects.
fn selected(
    wanted: BTreeMap<String, Option<String>>,
    only: Option<&str>,
) -> impl Iterator<Item = (String, Option<String>)> {
    wanted
        .into_iter()
        .filter(move |(name, inst)| only.is_none_or(|o| o == name || inst.as_deref() == Some(o)))
}

fn label_of(obj: &DynamicObject) -> Option<&String> {
    obj.metadata.labels.as_ref()?.get(SCALE_SET_NAME_LABEL)
}

fn status_of<T: serde::de::DeserializeOwned + Default>(obj: &DynamicObject) -> T {
    obj.data.get("status").and_then(|s| serde_json::from_value(s.clone()).ok()).unwrap_or_default()
}

fn fold(
    name: String,
    installation: Option<String>,
    set: Option<&DynamicObject>,
    runner_set: Option<&DynamicObject>,
    runners: &[DynamicObject],
    listeners: &[Pod],
) -> RunnerStatus {
    let set_status: SetStatus = set.map(status_of).unwrap_or_default();
    let runner_set_status: SetStatus = runner_set.map(status_of).unwrap_or_default();
    let mine: Vec<&DynamicObject> = runners.iter().filter(|r| label_of(r) == Some(&name)).collect();
    let count = |phase: &str| {
        mine.iter().filter(|r| status_of::<RunnerState>(r).phase.as_deref() == Some(phase)).count()
            as u32
    };
    // NB: ARC's counters lag behind the runners themselves; the larger of the two is shown.
    let running = count("Running").max(set_status.running_ephemeral_runners.unwrap_or(0));
    let pending = count("Pending").max(set_status.pending_ephemeral_runners.unwrap_or(0));
    let failed = count("Failed").max(set_status.failed_ephemeral_runners.unwrap_or(0));
    let phase = match set {
        None => "NotDeployed".to_owned(),
        Some(_) => set_status
            .phase
            .or(set_status.state)
            .or(runner_set_status.phase)
            .unwrap_or_else(|| "Unknown".to_owned()),
    };
    let mut jobs: Vec<JobStatus> = mine
        .iter()
        .filter_map(|r| {
            let state: RunnerState = status_of(r);
            Some(JobStatus {
                runner: r.metadata.name.clone().unwrap_or_default(),
                job: state.job_display_name.filter(|j| !j.is_empty())?,
                repository: state.job_repository_name.unwrap_or_default(),
                workflow_run_id: state.workflow_run_id,
            })
        })
        .collect();
    jobs.sort_by(|a, b| a.runner.cmp(&b.runner));
    let listener = listener_state(listeners.iter().find(|p| {
        p.metadata.labels.as_ref().and_then(|l| l.get(SCALE_SET_NAME_LABEL)) == Some(&name)
    }));
    RunnerStatus {
        name,
        installation,
        deployed: set.is_some(),
        phase,
        listener: if set.is_some() { listener } else { "-".to_owned() },
        running,
        pending,
        failed,
        jobs,
    }
}

/// A listener pod's state in one word, preferring a container's waiting reason (such as
/// `CrashLoopBackOff`) over the pod phase, as `kubectl get pods` does.
fn listener_state(pod: Option<&Pod>) -> String {
    let Some(pod) = pod else {
        return "Missing".to_owned();
    };
    let status = pod.status.as_ref();
    let waiting = status
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
    waiting.or_else(|| status.and_then(|s| s.phase.clone())).unwrap_or_else(|| "Unknown".to_owned())
}
