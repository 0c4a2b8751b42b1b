//! Helm: installing, upgrading and removing releases through the `helm` executable, and
//! reading what is deployed.
//!
//! Writes go through `helm` so users get exactly what ARC documents. Reads go straight to
//! Helm's release storage (Secrets of type `helm.sh/release.v1`) through the kube client:
//! one list call instead of one `helm get values` process per release, which is what makes
//! an unchanged `deskrun up` fast.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ListParams;
use serde::Deserialize;

use crate::cluster::ClusterHandle;
use crate::process::{self, Program};

/// Errors from Helm.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Running helm failed.
    #[error(transparent)]
    Program(#[from] process::Error),
    /// Listing Helm's release storage failed.
    #[error("cannot list Helm releases in namespace {namespace:?}")]
    List {
        /// The namespace.
        namespace: String,
        /// The underlying error.
        #[source]
        source: kube::Error,
    },
    /// A release record could not be decoded.
    #[error("cannot decode Helm release record {secret:?}: {reason}")]
    Decode {
        /// The Secret holding the record.
        secret: String,
        /// What was wrong.
        reason: String,
    },
}

/// Shorthand for results in this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A chart to install: a reference Helm understands and, for registries, a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartRef {
    /// `oci://…/chart`, a `.tgz` file or a chart directory.
    pub reference: String,
    /// `--version`, for registry references.
    pub version: Option<String>,
}

/// What is deployed for one release, from Helm's own record of it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeployedRelease {
    /// The release name.
    pub name: String,
    /// Helm's status of the latest revision (`deployed`, `failed`, …).
    pub status: String,
    /// The chart name.
    pub chart: String,
    /// The chart version.
    pub chart_version: String,
    /// The values the release was installed with.
    pub values: serde_json::Value,
    /// The latest revision number.
    pub revision: u64,
}

#[derive(Deserialize)]
struct ReleaseRecord {
    name: String,
    #[serde(default)]
    info: ReleaseInfo,
    chart: ChartRecord,
    #[serde(default)]
    config: serde_json::Value,
    version: u64,
}

#[derive(Deserialize, Default)]
struct ReleaseInfo {
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct ChartRecord {
    metadata: ChartMetadata,
}

#[derive(Deserialize)]
struct ChartMetadata {
    name: String,
    version: String,
}

/// Helm bound to one cluster and namespace.
#[derive(Debug)]
pub struct Helm<'a> {
    cluster: &'a ClusterHandle,
    namespace: String,
    program: Program,
}

impl<'a> Helm<'a> {
    /// Helm for `namespace` in `cluster`.
    pub fn new(cluster: &'a ClusterHandle, namespace: &str) -> Self {
        Self { cluster, namespace: namespace.to_owned(), program: Program::helm() }
    }

    fn base_args(&self) -> Vec<OsString> {
        vec![
            "--namespace".into(),
            self.namespace.clone().into(),
            "--kubeconfig".into(),
            self.cluster.kubeconfig_path().into(),
            "--kube-context".into(),
            self.cluster.context().into(),
        ]
    }

    /// The CustomResourceDefinitions `chart` carries in its `crds/` directory, as Helm
    /// prints them (`helm show crds`: YAML documents).
    #[tracing::instrument(skip_all, fields(chart = %chart.reference), err)]
    pub async fn show_crds(&self, chart: &ChartRef) -> Result<String> {
        let mut args: Vec<OsString> = vec!["show".into(), "crds".into(), (&chart.reference).into()];
        if let Some(version) = &chart.version {
            args.extend(["--version".into(), version.into()]);
        }
        let out = self.program.run(&args, None).await?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Installs or upgrades `release` from `chart` with `values` (YAML, fed through stdin).
    ///
    /// `--skip-crds`: deskrun applies a chart's CRDs itself before installing it (see
    /// `reconcile`); Helm would create them only on first install, never upgrade them, and
    /// then wait for them in 2-second polls.
    #[tracing::instrument(skip_all, fields(release, chart = %chart.reference), err)]
    pub async fn upgrade_install(
        &self,
        release: &str,
        chart: &ChartRef,
        values: &str,
    ) -> Result<()> {
        let mut args: Vec<OsString> =
            vec!["upgrade".into(), "--install".into(), release.into(), (&chart.reference).into()];
        if let Some(version) = &chart.version {
            args.extend(["--version".into(), version.into()]);
        }
        args.extend(self.base_args());
        // NB: no --create-namespace: `reconcile` applies the namespace with the CRDs, and
        // Helm's create would be one refused write per release.
        args.extend(["--skip-crds".into(), "--values".into(), "-".into()]);
        self.program.run(&args, Some(values.as_bytes())).await?;
        Ok(())
    }

    /// Removes `release`; a release that is already gone is not an error.
    #[tracing::instrument(skip_all, fields(release), err)]
    pub async fn uninstall(&self, release: &str) -> Result<()> {
        let mut args: Vec<OsString> = vec!["uninstall".into(), release.into()];
        args.extend(self.base_args());
        args.push("--ignore-not-found".into());
        self.program.run(&args, None).await?;
        Ok(())
    }

    /// Every release in the namespace, at its latest revision, by name.
    #[tracing::instrument(skip_all, fields(namespace = %self.namespace), err)]
    pub async fn releases(&self) -> Result<BTreeMap<String, DeployedRelease>> {
        let api: kube::Api<Secret> =
            kube::Api::namespaced(self.cluster.client().clone(), &self.namespace);
        let params = ListParams::default().labels("owner=helm");
        let list = api
            .list(&params)
            .await
            .map_err(|source| Error::List { namespace: self.namespace.clone(), source })?;
        let mut latest: BTreeMap<String, DeployedRelease> = BTreeMap::new();
        for secret in list.items {
            let release = decode_release(&secret)?;
            let newer =
                latest.get(&release.name).is_none_or(|seen| seen.revision < release.revision);
            if newer {
                latest.insert(release.name.clone(), release);
            }
        }
        Ok(latest)
    }
}

/// Decodes Helm's record: the Secret's `release` key holds base64 of gzipped JSON.
fn decode_release(secret: &Secret) -> Result<DeployedRelease> {
    let name = secret.metadata.name.clone().unwrap_or_default();
    let fail = |reason: String| Error::Decode { secret: name.clone(), reason };
    let data = secret
        .data
        .as_ref()
        .and_then(|d| d.get("release"))
        .ok_or_else(|| fail("no `release` key".into()))?;
    let gzipped = base64::engine::general_purpose::STANDARD
        .decode(&data.0)
        .map_err(|e| fail(format!("not base64: {e}")))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(gzipped.as_slice())
        .read_to_end(&mut json)
        .map_err(|e| fail(format!("not gzip: {e}")))?;
    let record: ReleaseRecord =
        serde_json::from_slice(&json).map_err(|e| fail(format!("not a release: {e}")))?;
    Ok(DeployedRelease {
        name: record.name,
        status: record.info.status,
        chart: record.chart.metadata.name,
        chart_version: record.chart.metadata.version,
        values: if record.config.is_null() { serde_json::json!({}) } else { record.config },
        revision: record.version,
    })
}
