//! `up` and `down`: compare what the config asks for with what the cluster has, show the
//! plan, and apply only the differences.
//!
//! What is deployed is read from Helm's release records and the objects deskrun owns, in a
//! handful of list calls; a release is upgraded only when its chart version, status or
//! values differ, and a Secret or ConfigMap is written only when its content differs. So a
//! second `up` with nothing changed writes nothing and restarts no runner.
//!
//! Installing the controller, deskrun applies its chart's CRDs itself (and Helm skips them),
//! then installs the controller release alongside the scale sets instead of before them:
//! a cold `up` does not wait for Helm's 2-second CRD polls and one release after another.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use futures::StreamExt;
use futures::future::Either;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};

use crate::arc::{self, ChartSource, ControllerValues, ScaleSetDeployment};
use crate::cluster::ClusterHandle;
use crate::config::Config;
use crate::helm::{self, DeployedRelease, Helm};
use crate::secrets::{self, SecretStore};
use crate::{ARC_NAMESPACE, MANAGED_BY_LABEL};

/// How many Helm releases are installed at once.
const CONCURRENT_RELEASES: usize = 4;

/// ARC's finalizer on a scale set's RBAC objects and Secrets; see
/// [`Reconciler::release_cleanup_protection`].
const CLEANUP_FINALIZER: &str = "actions.github.com/cleanup-protection";

/// How long to wait for ARC's controller to delete a removed scale set: 30 × 1 s.
const CLEANUP_POLLS: u32 = 30;

/// How often to look whether the scale set is gone.
const CLEANUP_POLL_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a freshly applied CRD may take to be served (the API server says Established).
const CRD_ESTABLISH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The field manager deskrun's server-side applies use.
const FIELD_MANAGER: &str = "deskrun";

/// Errors planning or applying.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Helm failed.
    #[error(transparent)]
    Helm(#[from] helm::Error),
    /// Preparing ARC's values or charts failed.
    #[error(transparent)]
    Arc(#[from] arc::Error),
    /// Reading credentials failed.
    #[error(transparent)]
    Secrets(#[from] secrets::Error),
    /// The controller chart's CRDs could not be read.
    #[error("cannot read the CRDs of chart {chart}: {reason}")]
    Crds {
        /// The chart reference.
        chart: String,
        /// What was wrong.
        reason: String,
    },
    /// A cluster-wide object (a CRD, the namespace) could not be applied.
    #[error("cannot apply {kind} {name:?}")]
    ApplyClusterObject {
        /// The object kind.
        kind: &'static str,
        /// The object name.
        name: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// Listing cluster-wide objects failed.
    #[error("cannot list {kind}s")]
    ListClusterObjects {
        /// The object kind.
        kind: &'static str,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// An applied CRD was not served in time.
    #[error(
        "the API server did not establish CRD {name:?} within {}s; check the cluster with \
         `kubectl get crd {name}`",
        CRD_ESTABLISH_TIMEOUT.as_secs()
    )]
    CrdNotEstablished {
        /// The CRD name.
        name: String,
    },
    /// A scale set's release could not be installed or upgraded; the others went ahead.
    #[error(
        "scale set {release} was not deployed{others} (the other changes were applied; fix \
         the cause below and run `deskrun up` again)"
    )]
    ReleaseFailed {
        /// The release (scale set name).
        release: String,
        /// ", nor a, b" when more failed.
        others: String,
        /// Why.
        #[source]
        source: Box<Error>,
    },
    /// A Kubernetes call failed.
    #[error("cannot {action} {kind} {name:?} in namespace {ARC_NAMESPACE}")]
    Kube {
        /// What was being done.
        action: &'static str,
        /// The object kind.
        kind: &'static str,
        /// The object name.
        name: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which installations a reconcile covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every installation; scale sets not in the config are removed (`up`).
    All,
    /// One installation; nothing else is touched (`add`).
    Only(String),
    /// No installation: every scale set is removed (`down`).
    Nothing,
}

/// One change the plan makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Install the ARC controller.
    InstallController,
    /// Upgrade the ARC controller.
    UpgradeController {
        /// Why.
        reason: String,
    },
    /// Create or update an installation's credentials Secret.
    WriteCredentials {
        /// The installation.
        installation: String,
        /// Whether the Secret exists already: changed credentials also restart the
        /// installation's listeners, because ARC's listener keeps its own copy.
        update: bool,
    },
    /// Create or update a scale set's hook template.
    WriteHookTemplate {
        /// The scale set.
        release: String,
    },
    /// Install a scale set release.
    Deploy {
        /// The scale set.
        release: String,
    },
    /// Upgrade a scale set release.
    Update {
        /// The scale set.
        release: String,
        /// Why.
        reason: String,
    },
    /// Uninstall a scale set release.
    Remove {
        /// The scale set.
        release: String,
    },
    /// Delete an object deskrun created that nothing needs any more.
    DeleteObject {
        /// `Secret` or `ConfigMap`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InstallController => write!(
                f,
                "+ install ARC controller {} {} (release {})",
                arc::CONTROLLER_CHART,
                arc::ARC_VERSION,
                arc::CONTROLLER_RELEASE
            ),
            Self::UpgradeController { reason } => write!(f, "~ upgrade ARC controller ({reason})"),
            Self::WriteCredentials { installation, update: false } => {
                write!(f, "+ create credentials Secret of {installation}")
            }
            Self::WriteCredentials { installation, update: true } => {
                write!(f, "~ update credentials of {installation} (its listeners restart)")
            }
            Self::WriteHookTemplate { release } => write!(f, "~ write hook template of {release}"),
            Self::Deploy { release } => write!(f, "+ deploy scale set {release}"),
            Self::Update { release, reason } => {
                write!(f, "~ update scale set {release} ({reason})")
            }
            Self::Remove { release } => write!(f, "- remove scale set {release}"),
            Self::DeleteObject { kind, name } => write!(f, "- delete {kind} {name}"),
        }
    }
}

/// What a reconcile will do.
#[derive(Debug)]
pub struct Plan {
    /// The changes, in the order they are applied.
    pub actions: Vec<Action>,
    /// Scale sets that are already as wanted.
    pub unchanged: Vec<String>,
    /// Installations left as they are, and why (their credentials are missing).
    pub skipped: Vec<(String, secrets::Error)>,
    deployments: BTreeMap<String, ScaleSetDeployment>,
    credentials: BTreeMap<String, Secret>,
}

impl Plan {
    /// Whether applying would change nothing.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Reconciles one cluster.
pub struct Reconciler<'a> {
    cluster: &'a ClusterHandle,
    chart_source: ChartSource,
    secrets: SecretStore,
}

impl<'a> Reconciler<'a> {
    /// A reconciler for `cluster`, installing charts from `chart_source`.
    pub fn new(
        cluster: &'a ClusterHandle,
        chart_source: ChartSource,
        secrets: SecretStore,
    ) -> Self {
        Self { cluster, chart_source, secrets }
    }

    fn helm(&self) -> Helm<'a> {
        Helm::new(self.cluster, ARC_NAMESPACE)
    }

    fn secrets_api(&self) -> kube::Api<Secret> {
        kube::Api::namespaced(self.cluster.client().clone(), ARC_NAMESPACE)
    }

    fn config_maps_api(&self) -> kube::Api<ConfigMap> {
        kube::Api::namespaced(self.cluster.client().clone(), ARC_NAMESPACE)
    }

    /// Works out what to change so the cluster matches `config` within `scope`.
    #[tracing::instrument(skip_all, fields(context = self.cluster.context(), ?scope), err)]
    pub async fn plan(&self, config: &Config, scope: &Scope) -> Result<Plan> {
        let releases = self.helm().releases().await?;
        let mut actions = Vec::new();
        if scope != &Scope::Nothing {
            self.plan_controller(&releases, &mut actions).await?;
        }
        let in_scope: Vec<_> = config
            .installations
            .values()
            .filter(|inst| match scope {
                Scope::All => true,
                Scope::Only(name) => &inst.name == name,
                Scope::Nothing => false,
            })
            .collect();
        let owned_secrets = self.owned(&self.secrets_api(), "Secret").await?;
        let owned_maps = self.owned(&self.config_maps_api(), "ConfigMap").await?;
        let mut credentials = BTreeMap::new();
        let mut deployments = BTreeMap::new();
        let mut skipped = Vec::new();
        let mut keep = Kept::default();
        for inst in &in_scope {
            let value = match self.secrets.load(&inst.name) {
                Ok(value) => value,
                // NB: one installation without credentials must not stop the others; its
                // objects in the cluster are kept as they are.
                Err(error @ secrets::Error::Missing { .. }) => {
                    keep.add_installation(inst);
                    skipped.push((inst.name.clone(), error));
                    continue;
                }
                Err(error) => return Err(error.into()),
            };
            let secret = arc::credentials_secret(inst, &value);
            let name = arc::credentials_secret_name(&inst.name);
            let current = owned_secrets.get(&name).map(|s| &s.data);
            if current != Some(&secret.data) {
                let update = current.is_some();
                actions.push(Action::WriteCredentials { installation: inst.name.clone(), update });
            }
            keep.add_installation(inst);
            credentials.insert(inst.name.clone(), secret);
            for deployment in arc::scale_set_deployments(inst) {
                if let Some(hook) = &deployment.hook_config_map {
                    let name = hook.metadata.name.clone().unwrap_or_default();
                    if owned_maps.get(&name).map(|m| &m.data) != Some(&hook.data) {
                        actions.push(Action::WriteHookTemplate {
                            release: deployment.release.clone(),
                        });
                    }
                }
                deployments.insert(deployment.release.clone(), deployment);
            }
        }
        let mut unchanged = Vec::new();
        for (release, deployment) in &deployments {
            match releases.get(release) {
                None => actions.push(Action::Deploy { release: release.clone() }),
                Some(deployed) => {
                    match release_drift(deployed, arc::SCALE_SET_CHART, &deployment.values_json()?)
                    {
                        Some(reason) => {
                            actions.push(Action::Update { release: release.clone(), reason })
                        }
                        None => unchanged.push(release.clone()),
                    }
                }
            }
        }
        if !matches!(scope, Scope::Only(_)) {
            plan_removals(&releases, &keep, &owned_secrets, &owned_maps, &mut actions);
        }
        Ok(Plan { actions, unchanged, skipped, deployments, credentials })
    }

    async fn plan_controller(
        &self,
        releases: &BTreeMap<String, DeployedRelease>,
        actions: &mut Vec<Action>,
    ) -> Result<()> {
        let wanted =
            serde_json::to_value(ControllerValues::default()).map_err(arc::Error::Render)?;
        match releases.get(arc::CONTROLLER_RELEASE) {
            None => actions.push(Action::InstallController),
            Some(deployed) => {
                if let Some(reason) = release_drift(deployed, arc::CONTROLLER_CHART, &wanted) {
                    actions.push(Action::UpgradeController { reason });
                } else if let Some(missing) = self.missing_crd().await? {
                    // NB: the CRDs are deskrun's, not in Helm's record: a deleted one is seen
                    // here, and the controller's upgrade applies it again.
                    actions.push(Action::UpgradeController {
                        reason: format!("CRD {missing} is missing"),
                    });
                }
            }
        }
        Ok(())
    }

    /// The first of ARC's CRDs the cluster lacks, if any (metadata only: the CRDs hold
    /// megabytes of schema).
    async fn missing_crd(&self) -> Result<Option<&'static str>> {
        let api: kube::Api<CustomResourceDefinition> =
            kube::Api::all(self.cluster.client().clone());
        let list = api.list_metadata(&ListParams::default()).await.map_err(|source| {
            Error::ListClusterObjects { kind: "CustomResourceDefinition", source }
        })?;
        let present: BTreeSet<String> =
            list.items.into_iter().filter_map(|crd| crd.metadata.name).collect();
        Ok(arc::CRDS.into_iter().find(|name| !present.contains(*name)))
    }

    async fn owned<K>(&self, api: &kube::Api<K>, kind: &'static str) -> Result<BTreeMap<String, K>>
    where
        K: kube::Resource + Clone + serde::de::DeserializeOwned + fmt::Debug,
    {
        let selector = format!("{}={}", MANAGED_BY_LABEL.0, MANAGED_BY_LABEL.1);
        let list = api.list(&ListParams::default().labels(&selector)).await;
        let list = match list {
            Ok(list) => list,
            // NB: before the first `up` the namespace does not exist: nothing is owned yet.
            Err(kube::Error::Api(status)) if status.code == 404 => return Ok(BTreeMap::new()),
            Err(source) => {
                return Err(Error::Kube { action: "list", kind, name: selector, source });
            }
        };
        Ok(list.items.into_iter().filter_map(|obj| Some((obj.meta().name.clone()?, obj))).collect())
    }

    /// Applies `plan`, reporting each action through `progress` as it completes.
    #[tracing::instrument(skip_all, fields(context = self.cluster.context(), actions = plan.actions.len()), err)]
    pub async fn apply(&self, plan: &Plan, progress: &(dyn Fn(&Action) + Sync)) -> Result<()> {
        let helm = self.helm();
        // The controller's release goes in beside the scale sets, not before them: they need
        // its CRDs and namespace, which are applied here first, but not its Deployment (the
        // scale set values name the controller's service account). Helm by hand installs the
        // controller first and waits for its CRDs in 2-second polls.
        let controller = plan.actions.iter().find(|action| {
            matches!(action, Action::InstallController | Action::UpgradeController { .. })
        });
        let controller = match controller {
            Some(action) => {
                let chart = self.chart_source.chart(arc::CONTROLLER_CHART)?;
                self.apply_namespace().await?;
                self.apply_crds(&helm, &chart).await?;
                Some((action, chart))
            }
            None => None,
        };
        for action in &plan.actions {
            match action {
                Action::WriteCredentials { installation, update } => {
                    if let Some(secret) = plan.credentials.get(installation) {
                        self.apply_object(&self.secrets_api(), secret, "Secret").await?;
                    }
                    if *update {
                        let sets =
                            plan.deployments.values().filter(|d| &d.installation == installation);
                        for deployment in sets {
                            self.restart_listener(&deployment.release).await?;
                        }
                    }
                    progress(action);
                }
                Action::WriteHookTemplate { release } => {
                    if let Some(hook) =
                        plan.deployments.get(release).and_then(|d| d.hook_config_map.as_ref())
                    {
                        self.apply_object(&self.config_maps_api(), hook, "ConfigMap").await?;
                    }
                    progress(action);
                }
                _ => {}
            }
        }
        let chart = self.chart_source.chart(arc::SCALE_SET_CHART)?;
        // NB: collected first, and installed through a named async fn rather than closures
        // held across awaits, so the future stays `Send` for any caller's runtime (closures
        // there defeat the compiler's higher-ranked lifetime inference in `tokio::spawn`).
        let mut pending: std::collections::VecDeque<(&Action, &ScaleSetDeployment)> = plan
            .actions
            .iter()
            .filter_map(|action| match action {
                Action::Deploy { release } | Action::Update { release, .. } => {
                    plan.deployments.get(release).map(|d| (action, d))
                }
                _ => None,
            })
            .collect();
        let mut running = futures::stream::FuturesUnordered::new();
        if let Some((action, controller_chart)) = &controller {
            running.push(Either::Left(install_controller(&helm, controller_chart, action)));
        }
        // NB: one failing release (a bad value, a Helm hiccup) does not stop the others: they
        // are installed all the same and the failures reported together at the end.
        let mut failed: Vec<Error> = Vec::new();
        loop {
            while running.len() < CONCURRENT_RELEASES {
                let Some((action, deployment)) = pending.pop_front() else { break };
                running.push(Either::Right(install_release(&helm, &chart, action, deployment)));
            }
            match running.next().await {
                Some(Ok(action)) => progress(action),
                Some(Err(error)) => {
                    tracing::warn!(%error, "a release failed; the others go on");
                    failed.push(error);
                }
                None => break,
            }
        }
        if let Some(first) = first_failure(failed) {
            return Err(first);
        }
        for action in &plan.actions {
            match action {
                Action::Remove { release } => {
                    helm.uninstall(release).await?;
                    self.release_cleanup_protection(release).await?;
                    progress(action);
                }
                Action::DeleteObject { kind, name } => {
                    self.delete_object(kind, name).await?;
                    progress(action);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Deletes the scale set's AutoscalingListener: ARC's controller recreates it at once,
    /// with a fresh copy of the credentials Secret (it never refreshes the old copy).
    async fn restart_listener(&self, release: &str) -> Result<()> {
        let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(
            self.cluster.client().clone(),
            ARC_NAMESPACE,
            &arc_resource("AutoscalingListener"),
        );
        let selector = format!("{}={release}", crate::status::SCALE_SET_NAME_LABEL);
        let result = api
            .delete_collection(&DeleteParams::default(), &ListParams::default().labels(&selector))
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(source) => Err(Error::Kube {
                action: "restart",
                kind: "AutoscalingListener",
                name: release.to_owned(),
                source,
            }),
        }
    }

    /// Removes one installation's scale sets and the objects deskrun made for it, without
    /// reading any credentials (so it works when the keyring has lost them).
    #[tracing::instrument(skip_all, fields(installation = %installation.name), err)]
    pub async fn remove_installation(
        &self,
        installation: &crate::spec::Installation,
        progress: &(dyn Fn(&Action) + Sync),
    ) -> Result<()> {
        let helm = self.helm();
        let releases = helm.releases().await?;
        for set in installation.scale_sets() {
            if releases.contains_key(&set.name) {
                let action = Action::Remove { release: set.name.clone() };
                helm.uninstall(&set.name).await?;
                self.release_cleanup_protection(&set.name).await?;
                progress(&action);
            }
            self.delete_object("ConfigMap", &arc::hook_config_map_name(&set.name)).await?;
        }
        self.delete_object("Secret", &arc::credentials_secret_name(&installation.name)).await
    }

    /// Finishes a scale set's removal: the chart puts ARC's `cleanup-protection` finalizer
    /// on the scale set's Role, RoleBinding and ServiceAccount, and only ARC's controller
    /// removes it, after it has deleted the AutoscalingRunnerSet. Once that set is gone the
    /// finalizer has done its job; when the controller is not running (stopped, crashed or
    /// never installed) the objects would otherwise stay Terminating forever.
    async fn release_cleanup_protection(&self, release: &str) -> Result<()> {
        let client = self.cluster.client().clone();
        let sets: kube::Api<DynamicObject> = kube::Api::namespaced_with(
            client.clone(),
            ARC_NAMESPACE,
            &arc_resource("AutoscalingRunnerSet"),
        );
        for _ in 0..CLEANUP_POLLS {
            match sets.get_opt(release).await {
                Ok(None) | Err(kube::Error::Api(_)) => break,
                Ok(Some(_)) => tokio::time::sleep(CLEANUP_POLL_INTERVAL).await,
                Err(source) => {
                    let name = release.to_owned();
                    return Err(Error::Kube {
                        action: "read",
                        kind: "AutoscalingRunnerSet",
                        name,
                        source,
                    });
                }
            }
        }
        if sets.get_opt(release).await.ok().flatten().is_some() {
            tracing::info!(release, "ARC's controller is still removing the scale set");
            return Ok(());
        }
        let selector = format!("{}={release}", crate::status::SCALE_SET_NAME_LABEL);
        for (group, kind) in [
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "RoleBinding"),
            ("", "ServiceAccount"),
            ("", "Secret"),
        ] {
            let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, "v1", kind));
            let api: kube::Api<DynamicObject> =
                kube::Api::namespaced_with(client.clone(), ARC_NAMESPACE, &resource);
            let list = api.list(&ListParams::default().labels(&selector)).await;
            let items = list.map_err(|source| Error::Kube {
                action: "list",
                kind: "object",
                name: selector.clone(),
                source,
            })?;
            for obj in items.items {
                let finalizers = obj.metadata.finalizers.clone().unwrap_or_default();
                if obj.metadata.deletion_timestamp.is_none()
                    || !finalizers.iter().any(|f| f == CLEANUP_FINALIZER)
                {
                    continue;
                }
                let kept: Vec<&String> =
                    finalizers.iter().filter(|f| *f != CLEANUP_FINALIZER).collect();
                let name = obj.metadata.name.clone().unwrap_or_default();
                let patch = Patch::Merge(serde_json::json!({"metadata": {"finalizers": kept}}));
                match api.patch(&name, &PatchParams::default(), &patch).await {
                    Ok(_) => {}
                    Err(kube::Error::Api(status)) if status.code == 404 => {}
                    Err(source) => {
                        return Err(Error::Kube {
                            action: "finish removing",
                            kind: "object",
                            name,
                            source,
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// Applies ARC's namespace (Helm's `--create-namespace` would make it only with the
    /// first release, and the credentials Secrets go in before that).
    async fn apply_namespace(&self) -> Result<()> {
        let api: kube::Api<Namespace> = kube::Api::all(self.cluster.client().clone());
        let namespace = Namespace {
            metadata: kube::api::ObjectMeta {
                name: Some(ARC_NAMESPACE.to_owned()),
                ..Default::default()
            },
            ..Default::default()
        };
        self.apply_object(&api, &namespace, "Namespace").await
    }

    /// Applies the controller chart's CRDs (server-side, so a newer chart's CRDs replace
    /// older ones, which Helm never does) and waits until the API server serves them.
    #[tracing::instrument(skip_all, fields(chart = %chart.reference), err)]
    async fn apply_crds(&self, helm: &Helm<'_>, chart: &crate::helm::ChartRef) -> Result<()> {
        let crds = parse_crds(&helm.show_crds(chart).await?)
            .map_err(|reason| Error::Crds { chart: chart.reference.clone(), reason })?;
        let api: kube::Api<CustomResourceDefinition> =
            kube::Api::all(self.cluster.client().clone());
        futures::future::try_join_all(crds.iter().map(|crd| {
            let api = &api;
            async move {
                self.apply_object(api, crd, "CustomResourceDefinition").await?;
                let name = crd.metadata.name.clone().unwrap_or_default();
                let established = kube::runtime::wait::await_condition(
                    api.clone(),
                    &name,
                    kube::runtime::wait::conditions::is_crd_established(),
                );
                match tokio::time::timeout(CRD_ESTABLISH_TIMEOUT, established).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(_)) | Err(_) => Err(Error::CrdNotEstablished { name }),
                }
            }
        }))
        .await?;
        tracing::debug!(count = crds.len(), "CRDs applied and established");
        Ok(())
    }

    /// Applies `object` server-side as deskrun's field manager, taking over fields another
    /// manager (an older deskrun, a hand edit) set. A namespaced object's error names the
    /// namespace; a cluster-scoped one's (the namespace itself, a CRD) does not.
    async fn apply_object<K>(
        &self,
        api: &kube::Api<K>,
        object: &K,
        kind: &'static str,
    ) -> Result<()>
    where
        K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + fmt::Debug,
    {
        let name = object.meta().name.clone().unwrap_or_default();
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let cluster_scoped = object.meta().namespace.is_none();
        api.patch(&name, &params, &Patch::Apply(object)).await.map_err(|source| {
            if cluster_scoped {
                Error::ApplyClusterObject { kind, name, source }
            } else {
                Error::Kube { action: "apply", kind, name, source }
            }
        })?;
        Ok(())
    }

    async fn delete_object(&self, kind: &'static str, name: &str) -> Result<()> {
        let params = DeleteParams::default();
        let result = if kind == "Secret" {
            self.secrets_api().delete(name, &params).await.map(|_| ())
        } else {
            self.config_maps_api().delete(name, &params).await.map(|_| ())
        };
        match result {
            Ok(()) => Ok(()),
            Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
            Err(source) => {
                Err(Error::Kube { action: "delete", kind, name: name.to_owned(), source })
            }
        }
    }
}

/// The names of what the wanted (or skipped) installations own: everything else of
/// deskrun's in the namespace is removed by a full reconcile.
#[derive(Default)]
struct Kept {
    releases: BTreeSet<String>,
    secrets: BTreeSet<String>,
    config_maps: BTreeSet<String>,
}

impl Kept {
    fn add_installation(&mut self, inst: &crate::spec::Installation) {
        self.secrets.insert(arc::credentials_secret_name(&inst.name));
        for set in inst.scale_sets() {
            self.config_maps.insert(arc::hook_config_map_name(&set.name));
            self.releases.insert(set.name);
        }
    }
}

fn plan_removals(
    releases: &BTreeMap<String, DeployedRelease>,
    keep: &Kept,
    owned_secrets: &BTreeMap<String, Secret>,
    owned_maps: &BTreeMap<String, ConfigMap>,
    actions: &mut Vec<Action>,
) {
    for (name, release) in releases {
        if release.chart == arc::SCALE_SET_CHART && !keep.releases.contains(name) {
            actions.push(Action::Remove { release: name.clone() });
        }
    }
    for name in owned_secrets.keys().filter(|n| !keep.secrets.contains(*n)) {
        actions.push(Action::DeleteObject { kind: "Secret", name: name.clone() });
    }
    for name in owned_maps.keys().filter(|n| !keep.config_maps.contains(*n)) {
        actions.push(Action::DeleteObject { kind: "ConfigMap", name: name.clone() });
    }
}

fn arc_resource(kind: &str) -> ApiResource {
    ApiResource::from_gvk(&GroupVersionKind::gvk("actions.github.com", "v1alpha1", kind))
}

/// The CRDs in `helm show crds` output: YAML documents, empty ones skipped.
fn parse_crds(yaml: &str) -> std::result::Result<Vec<CustomResourceDefinition>, String> {
    use serde::Deserialize;
    let mut crds = Vec::new();
    for document in serde_norway::Deserializer::from_str(yaml) {
        let value = serde_norway::Value::deserialize(document).map_err(|e| e.to_string())?;
        if value.is_null() {
            continue;
        }
        crds.push(serde_norway::from_value(value).map_err(|e| e.to_string())?);
    }
    if crds.is_empty() {
        return Err("the chart has no CRDs; is it ARC's controller chart?".to_owned());
    }
    Ok(crds)
}

/// Installs or upgrades ARC's controller release; returns the action it carried out.
async fn install_controller<'p>(
    helm: &Helm<'_>,
    chart: &crate::helm::ChartRef,
    action: &'p Action,
) -> Result<&'p Action> {
    let values = serde_json::to_string(&ControllerValues::default()).map_err(arc::Error::Render)?;
    helm.upgrade_install(arc::CONTROLLER_RELEASE, chart, &values).await?;
    Ok(action)
}

/// Installs or upgrades one scale set release; returns the action it carried out.
async fn install_release<'p>(
    helm: &Helm<'_>,
    chart: &crate::helm::ChartRef,
    action: &'p Action,
    deployment: &ScaleSetDeployment,
) -> Result<&'p Action> {
    let failed = |source: Error| Error::ReleaseFailed {
        release: deployment.release.clone(),
        others: String::new(),
        source: Box::new(source),
    };
    let values = serde_json::to_string(&deployment.values)
        .map_err(|e| failed(arc::Error::Render(e).into()))?;
    helm.upgrade_install(&deployment.release, chart, &values)
        .await
        .map_err(|e| failed(e.into()))?;
    Ok(action)
}

/// The first of `failed`, naming the other failed releases in it.
fn first_failure(failed: Vec<Error>) -> Option<Error> {
    let mut failed = failed.into_iter();
    let first = failed.next()?;
    let others: Vec<String> = failed
        .map(|error| match error {
            Error::ReleaseFailed { release, .. } => release,
            other => other.to_string(),
        })
        .collect();
    Some(match first {
        Error::ReleaseFailed { release, source, .. } if !others.is_empty() => {
            Error::ReleaseFailed { release, others: format!(", nor {}", others.join(", ")), source }
        }
        first => first,
    })
}

/// Why a deployed release differs from what is wanted, or `None` when it does not.
fn release_drift(
    deployed: &DeployedRelease,
    chart: &str,
    values: &serde_json::Value,
) -> Option<String> {
    if deployed.chart != chart {
        return Some(format!("chart is {}, want {chart}", deployed.chart));
    }
    if deployed.chart_version != arc::ARC_VERSION {
        return Some(format!("chart version {} → {}", deployed.chart_version, arc::ARC_VERSION));
    }
    if deployed.status != "deployed" {
        return Some(format!("last Helm status is {}", deployed.status));
    }
    if &deployed.values != values {
        return Some("values changed".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets}
  scope: Namespaced
  versions:
    - {name: v1, served: true, storage: true}
";

    #[test]
    fn crds_are_read_from_every_document_and_empty_documents_are_skipped() {
        let yaml = format!(
            "---\n# Source: crds/a.yaml\n{CRD}---\n---\n{}",
            CRD.replace("widgets", "gadgets")
        );
        let names: Vec<_> =
            parse_crds(&yaml).unwrap().into_iter().filter_map(|c| c.metadata.name).collect();
        assert_eq!(names, ["widgets.example.com", "gadgets.example.com"]);
    }

    #[test]
    fn a_chart_without_crds_or_with_something_else_is_refused() {
        assert!(parse_crds("").unwrap_err().contains("no CRDs"));
        assert!(parse_crds("kind: [unclosed").is_err());
        assert!(parse_crds("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n").is_err());
    }
}
