//! ARC as deskrun deploys it: where the charts come from, the controller release, one scale
//! set release per installation (per instance with `--instances`), the values each container
//! mode needs as typed structs, the credentials Secret and the privileged hook template.
//!
//! Facts relied on are from gha-runner-scale-set 0.14.2 (`values.yaml`, `_helpers.tpl`,
//! `autoscalingrunnerset.yaml`). Helm itself is driven by [`crate::helm`]; deciding what to
//! change is [`crate::reconcile`]'s job.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, EnvVar, HostPathVolumeSource, PodSpec, Secret,
    Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use secrecy::ExposeSecret;
use serde::Serialize;

use crate::cluster::{NODE_CACHE_ROOT, node_path_of_host};
use crate::config::ArcConfig;
use crate::helm::ChartRef;
use crate::secrets::Secret as SecretValue;
use crate::spec::{Auth, ContainerMode, Installation, Mount, MountType, ScaleSetSpec};
use crate::{ARC_NAMESPACE, INSTALLATION_LABEL, MANAGED_BY_LABEL};

/// The ARC chart version deskrun installs.
pub const ARC_VERSION: &str = "0.14.2";

/// GitHub's OCI registry for ARC's charts.
pub const DEFAULT_CHART_REGISTRY: &str = "oci://ghcr.io/actions/actions-runner-controller-charts";

/// Environment variable that overrides the chart source (a registry or a directory).
pub const CHART_SOURCE_ENV: &str = "DESKRUN_CHART_SOURCE";

/// The controller chart.
pub const CONTROLLER_CHART: &str = "gha-runner-scale-set-controller";

/// The scale set chart.
pub const SCALE_SET_CHART: &str = "gha-runner-scale-set";

/// The CRDs the controller chart brings (ARC.md): a cluster without one of them cannot run
/// scale sets, whatever Helm's record says.
pub const CRDS: [&str; 4] = [
    "autoscalingrunnersets.actions.github.com",
    "ephemeralrunnersets.actions.github.com",
    "ephemeralrunners.actions.github.com",
    "autoscalinglisteners.actions.github.com",
];

/// The controller's Helm release name, as in the original deskrun.
pub const CONTROLLER_RELEASE: &str = "arc";

/// The controller's service account: the chart's fullname for release [`CONTROLLER_RELEASE`]
/// (`<release>-gha-rs-controller`).
pub const CONTROLLER_SERVICE_ACCOUNT: &str = "arc-gha-rs-controller";

/// The runner image ARC documents.
pub const RUNNER_IMAGE: &str = "ghcr.io/actions/actions-runner:latest";

/// Where the hook template ConfigMap is mounted in the runner.
const HOOK_TEMPLATE_DIR: &str = "/home/runner/pod-templates";

/// The hook template's file name inside the ConfigMap.
const HOOK_TEMPLATE_FILE: &str = "privileged.yaml";

/// Capabilities the original deskrun gives privileged job pods.
const PRIVILEGED_CAPABILITIES: [&str; 12] = [
    "SYS_ADMIN",
    "NET_ADMIN",
    "SYS_PTRACE",
    "SYS_CHROOT",
    "SETFCAP",
    "SETPCAP",
    "NET_RAW",
    "IPC_LOCK",
    "SYS_RESOURCE",
    "MKNOD",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
];

/// Errors preparing what ARC needs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configured local chart source lacks a chart.
    #[error(
        "chart {chart} {version} not found in {dir}: expected {chart}-{version}.tgz or a \
         {chart}/ directory there; set {CHART_SOURCE_ENV} (or arc.chart_source in the config) \
         to a directory that has it, or unset it to use {DEFAULT_CHART_REGISTRY}"
    )]
    ChartNotFound {
        /// The directory searched.
        dir: PathBuf,
        /// The chart name.
        chart: &'static str,
        /// The version wanted.
        version: &'static str,
    },
    /// A value could not be rendered (a bug, not user input).
    #[error("cannot render Helm values")]
    Render(#[source] serde_json::Error),
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where ARC's charts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource {
    /// An OCI registry prefix, e.g. [`DEFAULT_CHART_REGISTRY`].
    Registry(String),
    /// A directory holding packed (`.tgz`) or unpacked charts, for offline use and tests.
    Directory(PathBuf),
}

impl ChartSource {
    /// `$DESKRUN_CHART_SOURCE`, else the config's `arc.chart_source`, else GitHub's registry.
    pub fn resolve(config: &ArcConfig) -> Self {
        let configured = std::env::var(CHART_SOURCE_ENV)
            .ok()
            .filter(|s| !s.is_empty())
            .or_else(|| config.chart_source.clone());
        match configured {
            Some(s) if s.starts_with("oci://") => {
                Self::Registry(s.trim_end_matches('/').to_owned())
            }
            Some(s) => Self::Directory(PathBuf::from(s)),
            None => Self::Registry(DEFAULT_CHART_REGISTRY.to_owned()),
        }
    }

    /// The reference Helm installs `chart` from.
    pub fn chart(&self, chart: &'static str) -> Result<ChartRef> {
        match self {
            Self::Registry(prefix) => Ok(ChartRef {
                reference: format!("{prefix}/{chart}"),
                version: Some(ARC_VERSION.to_owned()),
            }),
            Self::Directory(dir) => {
                let packed = dir.join(format!("{chart}-{ARC_VERSION}.tgz"));
                let unpacked = dir.join(chart);
                let found = if packed.is_file() {
                    packed
                } else if unpacked.join("Chart.yaml").is_file() {
                    unpacked
                } else {
                    return Err(Error::ChartNotFound {
                        dir: dir.clone(),
                        chart,
                        version: ARC_VERSION,
                    });
                };
                Ok(ChartRef { reference: found.display().to_string(), version: None })
            }
        }
    }
}

/// Values of the controller release. deskrun keeps the chart's defaults; the struct exists
/// so the values are explicit and compared like every other release's.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ControllerValues {
    /// One controller is plenty on one machine.
    pub replica_count: u32,
}

impl Default for ControllerValues {
    fn default() -> Self {
        Self { replica_count: 1 }
    }
}

/// Values of one `gha-runner-scale-set` release.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleSetValues {
    /// Where the runners register.
    pub github_config_url: String,
    /// The name of the credentials Secret deskrun creates; never the token itself.
    pub github_config_secret: String,
    /// The `runs-on:` target.
    pub runner_scale_set_name: String,
    /// Idle runners.
    pub min_runners: u32,
    /// Most runners.
    pub max_runners: u32,
    /// ARC's container mode.
    pub container_mode: ContainerModeValues,
    /// The runner pod template.
    pub template: PodTemplateValues,
    /// The controller's service account, given explicitly so the chart need not look it up.
    pub controller_service_account: ServiceAccountRef,
}

/// `containerMode` of the scale set chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerModeValues {
    /// `kubernetes`, `kubernetes-novolume` or `dind`.
    #[serde(rename = "type")]
    pub mode_type: &'static str,
    /// The per-job work volume claim (kubernetes mode only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubernetes_mode_work_volume_claim: Option<WorkVolumeClaim>,
}

/// The per-job work volume claim of kubernetes mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkVolumeClaim {
    /// Access modes.
    pub access_modes: Vec<&'static str>,
    /// kind's default storage class.
    pub storage_class_name: &'static str,
    /// Requested size.
    pub resources: VolumeResources,
}

/// `resources` of a volume claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VolumeResources {
    /// `requests`.
    pub requests: BTreeMap<&'static str, &'static str>,
}

/// `template` of the scale set chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodTemplateValues {
    /// The runner pod spec the chart merges with its mode defaults.
    pub spec: PodSpec,
}

/// A service account by namespace and name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceAccountRef {
    /// Namespace.
    pub namespace: &'static str,
    /// Name.
    pub name: &'static str,
}

/// Where deskrun keeps auto-chosen caches: on the host, and where the node sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRoot {
    /// The directory on the user's machine.
    pub host: PathBuf,
}

impl CacheRoot {
    /// `<data dir>/cache`.
    pub fn new(data_dir: &Path) -> Self {
        Self { host: data_dir.join("cache") }
    }

    /// The cache root of this machine's data directory ([`crate::paths::data_dir`]), if one
    /// is known.
    pub fn from_env() -> Option<Self> {
        crate::paths::data_dir().map(|dir| Self::new(&dir))
    }
}

/// The name of an installation's credentials Secret.
pub fn credentials_secret_name(installation: &str) -> String {
    format!("deskrun-{installation}-github")
}

/// The name of a scale set's hook template ConfigMap.
pub fn hook_config_map_name(scale_set: &str) -> String {
    format!("deskrun-{scale_set}-hook")
}

/// The partition of an auto-chosen cache: per installation, per instance, per target.
pub fn cache_partition(installation: &str, instance: Option<u32>, target: &Path) -> PathBuf {
    let instance_dir = instance.map_or_else(|| "default".to_owned(), |i| format!("instance-{i}"));
    // NB: '/' becomes '_', and the two characters that could then make two targets meet
    // ('%' and '_') are percent-encoded first, so the slug decodes back to one target. A
    // target without them keeps the directory earlier versions chose (and its warm cache).
    let slug = target
        .to_string_lossy()
        .trim_matches('/')
        .replace('%', "%25")
        .replace('_', "%5F")
        .replace('/', "_");
    Path::new(installation).join(instance_dir).join(slug)
}

/// Every user host path the installations mount, which kind must map into the node.
pub fn required_host_paths<'a>(
    installations: impl IntoIterator<Item = &'a Installation>,
) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = installations
        .into_iter()
        .flat_map(|inst| inst.mounts.iter().filter_map(|m| m.source.clone()))
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// A mount as the runner pod sees it: the volume and where it goes.
struct ResolvedMount {
    volume: Volume,
    mount: VolumeMount,
}

fn resolve_mounts(installation: &Installation, set: &ScaleSetSpec) -> Vec<ResolvedMount> {
    installation
        .mounts
        .iter()
        .enumerate()
        .map(|(index, mount)| resolve_mount(installation, set, index, mount))
        .collect()
}

fn resolve_mount(
    inst: &Installation,
    set: &ScaleSetSpec,
    index: usize,
    mount: &Mount,
) -> ResolvedMount {
    let name = format!("deskrun-mount-{index}");
    let node_path = match (&mount.source, set.instance) {
        // NB: instances never share a cache, so a directory the user names is split into one
        // subdirectory per instance; a socket is a single thing and is shared as it is.
        (Some(source), Some(i)) if mount.kind != MountType::Socket => {
            node_path_of_host(source).join(format!("instance-{i}"))
        }
        (Some(source), _) => node_path_of_host(source),
        (None, _) => Path::new(NODE_CACHE_ROOT).join(cache_partition(
            &inst.name,
            set.instance,
            &mount.target,
        )),
    };
    // The per-instance subdirectory is deskrun's own and may not exist yet.
    let volume_type = match (mount.kind, &mount.source, set.instance) {
        (MountType::Directory, Some(_), Some(_)) => MountType::DirectoryOrCreate,
        (kind, _, _) => kind,
    };
    ResolvedMount {
        volume: Volume {
            name: name.clone(),
            host_path: Some(HostPathVolumeSource {
                path: node_path.display().to_string(),
                type_: Some(volume_type.as_str().to_owned()),
            }),
            ..Default::default()
        },
        mount: VolumeMount {
            name,
            mount_path: mount.target.display().to_string(),
            ..Default::default()
        },
    }
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.to_owned(), value: Some(value.to_owned()), ..Default::default() }
}

/// Everything one scale set needs: its release values and, in privileged mode, the hook
/// template ConfigMap.
#[derive(Debug, Clone, PartialEq)]
pub struct ScaleSetDeployment {
    /// The installation it belongs to.
    pub installation: String,
    /// The release (and scale set) name.
    pub release: String,
    /// The chart values.
    pub values: ScaleSetValues,
    /// The hook template, for `cached-privileged-kubernetes`.
    pub hook_config_map: Option<ConfigMap>,
}

impl ScaleSetDeployment {
    /// The values as JSON, the shape Helm records them in.
    pub fn values_json(&self) -> Result<serde_json::Value> {
        serde_json::to_value(&self.values).map_err(Error::Render)
    }
}

/// The scale sets of `installation`, ready to deploy.
pub fn scale_set_deployments(installation: &Installation) -> Vec<ScaleSetDeployment> {
    installation
        .scale_sets()
        .into_iter()
        .map(|set| scale_set_deployment(installation, &set))
        .collect()
}

fn scale_set_deployment(inst: &Installation, set: &ScaleSetSpec) -> ScaleSetDeployment {
    let mounts = resolve_mounts(inst, set);
    let mut runner_env = vec![
        // NB: ARC's kubernetes modes refuse jobs without `container:` unless this is false;
        // deskrun users expect plain jobs to run, as on GitHub's runners.
        env("ACTIONS_RUNNER_REQUIRE_JOB_CONTAINER", "false"),
    ];
    let mut volumes: Vec<Volume> = Vec::new();
    let mut volume_mounts: Vec<VolumeMount> = Vec::new();
    let mut hook_config_map = None;
    let container_mode = match inst.mode {
        ContainerMode::Kubernetes => ContainerModeValues {
            mode_type: "kubernetes",
            kubernetes_mode_work_volume_claim: Some(WorkVolumeClaim {
                access_modes: vec!["ReadWriteOnce"],
                storage_class_name: "standard",
                resources: VolumeResources { requests: BTreeMap::from([("storage", "1Gi")]) },
            }),
        },
        ContainerMode::Dind => {
            ContainerModeValues { mode_type: "dind", kubernetes_mode_work_volume_claim: None }
        }
        ContainerMode::CachedPrivilegedKubernetes => {
            let name = hook_config_map_name(&set.name);
            runner_env.push(env(
                "ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE",
                &format!("{HOOK_TEMPLATE_DIR}/{HOOK_TEMPLATE_FILE}"),
            ));
            volumes.push(Volume {
                name: "deskrun-hook-template".to_owned(),
                config_map: Some(ConfigMapVolumeSource {
                    name: name.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            });
            volume_mounts.push(VolumeMount {
                name: "deskrun-hook-template".to_owned(),
                mount_path: HOOK_TEMPLATE_DIR.to_owned(),
                read_only: Some(true),
                ..Default::default()
            });
            hook_config_map = Some(hook_template(inst, &name, &mounts));
            ContainerModeValues {
                mode_type: "kubernetes-novolume",
                kubernetes_mode_work_volume_claim: None,
            }
        }
    };
    for resolved in mounts {
        volumes.push(resolved.volume);
        volume_mounts.push(resolved.mount);
    }
    let runner = Container {
        name: "runner".to_owned(),
        image: Some(RUNNER_IMAGE.to_owned()),
        command: Some(vec!["/home/runner/run.sh".to_owned()]),
        env: Some(runner_env),
        volume_mounts: (!volume_mounts.is_empty()).then_some(volume_mounts),
        ..Default::default()
    };
    let values = ScaleSetValues {
        github_config_url: inst.repository.as_str().to_owned(),
        github_config_secret: credentials_secret_name(&inst.name),
        runner_scale_set_name: set.name.clone(),
        min_runners: set.min_runners,
        max_runners: set.max_runners,
        container_mode,
        template: PodTemplateValues {
            spec: PodSpec {
                containers: vec![runner],
                volumes: (!volumes.is_empty()).then_some(volumes),
                ..Default::default()
            },
        },
        controller_service_account: ServiceAccountRef {
            namespace: ARC_NAMESPACE,
            name: CONTROLLER_SERVICE_ACCOUNT,
        },
    };
    ScaleSetDeployment {
        installation: inst.name.clone(),
        release: set.name.clone(),
        values,
        hook_config_map,
    }
}

/// The container hook template (ARC's `ACTIONS_RUNNER_CONTAINER_HOOK_TEMPLATE`) that makes
/// job pods privileged root with host /sys, cgroups, /proc and /dev, as the original
/// deskrun's `cached-privileged-kubernetes` mode does, plus the user's mounts.
fn hook_template(inst: &Installation, name: &str, mounts: &[ResolvedMount]) -> ConfigMap {
    let host = |volume: &str, path: &str| Volume {
        name: volume.to_owned(),
        host_path: Some(HostPathVolumeSource { path: path.to_owned(), type_: None }),
        ..Default::default()
    };
    let at = |volume: &str, path: &str| VolumeMount {
        name: volume.to_owned(),
        mount_path: path.to_owned(),
        ..Default::default()
    };
    // NB: runc refuses mounts on /proc itself, so the host's /proc is visible at /host/proc.
    let mut volumes = vec![
        host("host-sys", "/sys"),
        host("host-cgroup", "/sys/fs/cgroup"),
        host("host-proc", "/proc"),
        host("host-dev", "/dev"),
    ];
    let mut volume_mounts = vec![
        at("host-sys", "/sys"),
        at("host-cgroup", "/sys/fs/cgroup"),
        at("host-proc", "/host/proc"),
        at("host-dev", "/dev"),
    ];
    for resolved in mounts {
        volumes.push(resolved.volume.clone());
        volume_mounts.push(resolved.mount.clone());
    }
    let job = serde_json::json!({
        "name": "$job",
        "env": [{"name": "SYSTEMD_IGNORE_CHROOT", "value": "1"}],
        "securityContext": {
            "privileged": true,
            "runAsUser": 0,
            "runAsGroup": 0,
            "capabilities": {"add": PRIVILEGED_CAPABILITIES},
        },
        "volumeMounts": volume_mounts,
    });
    let template = serde_json::json!({
        "spec": {
            "securityContext": {"runAsUser": 0, "runAsGroup": 0},
            "containers": [job],
            "volumes": volumes,
        }
    });
    let yaml = serde_norway::to_string(&template).unwrap_or_default();
    ConfigMap {
        metadata: managed_metadata(name, &inst.name),
        data: Some(BTreeMap::from([(HOOK_TEMPLATE_FILE.to_owned(), yaml)])),
        ..Default::default()
    }
}

fn managed_metadata(name: &str, installation: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(ARC_NAMESPACE.to_owned()),
        labels: Some(BTreeMap::from([
            (MANAGED_BY_LABEL.0.to_owned(), MANAGED_BY_LABEL.1.to_owned()),
            (INSTALLATION_LABEL.to_owned(), installation.to_owned()),
        ])),
        ..Default::default()
    }
}

/// The credentials Secret of `installation`, with exactly the keys ARC reads: `github_token`
/// for a PAT; `github_app_id`, `github_app_installation_id` and `github_app_private_key` for
/// a GitHub App.
pub fn credentials_secret(installation: &Installation, secret: &SecretValue) -> Secret {
    let bytes = |s: &str| ByteString(s.as_bytes().to_vec());
    let data = match &installation.auth {
        Auth::Pat => BTreeMap::from([("github_token".to_owned(), bytes(secret.expose_secret()))]),
        Auth::GithubApp { app_id, installation_id } => BTreeMap::from([
            ("github_app_id".to_owned(), bytes(app_id)),
            ("github_app_installation_id".to_owned(), bytes(&installation_id.to_string())),
            ("github_app_private_key".to_owned(), bytes(secret.expose_secret())),
        ]),
    };
    Secret {
        metadata: managed_metadata(
            &credentials_secret_name(&installation.name),
            &installation.name,
        ),
        type_: Some("Opaque".to_owned()),
        data: Some(data),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::GitHubUrl;

    fn installation(mode: ContainerMode) -> Installation {
        Installation {
            name: "r".into(),
            repository: GitHubUrl::parse("https://github.com/o/r").unwrap(),
            mode,
            min_runners: 1,
            max_runners: 3,
            instances: 1,
            mounts: vec![Mount {
                source: None,
                target: "/var/lib/docker".into(),
                kind: MountType::DirectoryOrCreate,
            }],
            auth: Auth::Pat,
        }
    }

    #[test]
    fn cache_partitions_never_collide() {
        let targets = ["/a_b", "/a/b", "/a_/b", "/a/_b", "/a__b", "/a/%5Fb", "/a%5F/b", "/a/b/"];
        let mut seen = std::collections::BTreeMap::new();
        for target in targets {
            let slug = cache_partition("r", None, Path::new(target));
            let clean = Path::new(target).components().collect::<PathBuf>();
            if let Some(other) = seen.insert(slug.clone(), clean.clone()) {
                assert_eq!(other, clean, "{target} and {other:?} share {slug:?}");
            }
        }
        assert_eq!(
            cache_partition("r", None, Path::new("/root/.npm")),
            Path::new("r/default/root_.npm"),
            "a plain target keeps the directory earlier versions chose"
        );
        assert_ne!(
            cache_partition("r", Some(1), Path::new("/x")),
            cache_partition("r", Some(2), Path::new("/x")),
            "instances must not share a cache"
        );
    }

    #[test]
    fn values_name_the_secret_and_never_carry_a_token() {
        let deployment = &scale_set_deployments(&installation(ContainerMode::Kubernetes))[0];
        let json = deployment.values_json().unwrap();
        assert_eq!(json["githubConfigSecret"], "deskrun-r-github");
        assert_eq!(json["containerMode"]["type"], "kubernetes");
        assert!(!json.to_string().contains("github_token"), "no credential key in values");
    }

    #[test]
    fn privileged_mode_uses_novolume_and_a_hook_template() {
        let deployment =
            &scale_set_deployments(&installation(ContainerMode::CachedPrivilegedKubernetes))[0];
        assert_eq!(deployment.values.container_mode.mode_type, "kubernetes-novolume");
        let hook = deployment.hook_config_map.as_ref().expect("privileged mode needs a hook");
        let template = &hook.data.as_ref().unwrap()[HOOK_TEMPLATE_FILE];
        for needle in ["privileged: true", "SYS_ADMIN", "SYSTEMD_IGNORE_CHROOT", "/var/lib/docker"]
        {
            assert!(template.contains(needle), "hook template lacks {needle}:\n{template}");
        }
    }

    #[test]
    fn pat_and_app_secrets_carry_exactly_arcs_keys() {
        let mut inst = installation(ContainerMode::Dind);
        let secret = SecretValue::from("s".to_owned());
        let keys: Vec<_> = credentials_secret(&inst, &secret).data.unwrap().into_keys().collect();
        assert_eq!(keys, ["github_token"]);
        inst.auth = Auth::GithubApp { app_id: "1".into(), installation_id: 2 };
        let keys: Vec<_> = credentials_secret(&inst, &secret).data.unwrap().into_keys().collect();
        assert_eq!(keys, ["github_app_id", "github_app_installation_id", "github_app_private_key"]);
    }
}
