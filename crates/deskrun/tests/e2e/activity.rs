//! `deskrun status --watch --output json`, the real binary, against the harness's API server:
//! EphemeralRunners are created and given job fields the way ARC's listener does, and a local
//! HTTP server stands in for GitHub's jobs endpoint (`DESKRUN_GITHUB_API_URL`).
//!
//! "Exactly once" is per watching process: a restarted `status --watch` shows a job already
//! running in its status line, not as a new start, and still announces its end. Relists and
//! reconnects of the kube watchers inside one process cannot be forced from here; the
//! engine's unit tests feed them to the tracker.

use std::io::{BufRead, BufReader};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::NS;
use crate::support::*;

/// How long a job event may take to show: the issue asks for a notification within 2 s.
const EVENT_WITHIN: Duration = Duration::from_secs(5);

/// How long to keep listening for a duplicate after an event arrived.
const QUIET_FOR: Duration = Duration::from_secs(2);

/// A running `deskrun status --watch --output json`.
struct Watch {
    child: Child,
    /// The JSON objects it printed, a line each, after the status line.
    events: mpsc::Receiver<Value>,
    /// Its status line.
    status: Value,
    stderr: mpsc::Receiver<String>,
}

impl Watch {
    /// Starts the watch and waits until it says it is watching.
    fn start(home: &Home, github: &MockServer) -> Self {
        let mut child = home
            .cmd()
            .args(["status", "--watch", "--output", "json"])
            .env("DESKRUN_GITHUB_API_URL", github.uri())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start deskrun status --watch");
        let (lines_tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let value: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("every line is one JSON object: {line:?}: {e}"));
                if lines_tx.send(value).is_err() {
                    break;
                }
            }
        });
        let (stderr_tx, stderr) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                let _ = stderr_tx.send(line);
            }
        });
        let status = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("the status comes first, as one JSON line");
        assert_eq!(status["cluster"]["running"], true, "{status}");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match stderr.recv_timeout(left) {
                Ok(line) if line.contains("Watching for activity") => break,
                Ok(line) => eprintln!("deskrun status --watch: {line}"),
                Err(_) => panic!("status --watch never said it was watching"),
            }
        }
        Self { child, events: lines, status, stderr }
    }

    /// Every event up to the next of kind `event`, which must come within `within`.
    fn until(&self, event: &str, within: Duration) -> Vec<Value> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(value) => {
                    let found = value["event"] == event;
                    seen.push(value);
                    if found {
                        return seen;
                    }
                }
                Err(_) => panic!("no {event} event within {within:?}; saw {seen:?}"),
            }
        }
    }

    /// The next event of kind `event`, with no other job event before it.
    fn wait_for(&self, event: &str, within: Duration) -> Value {
        let mut seen = self.until(event, within);
        let found = seen.pop().unwrap_or_default();
        assert!(job_events(&seen).is_empty(), "job events before {event}: {seen:?}");
        found
    }

    /// Every event printed during `for_`.
    fn events_during(&self, for_: Duration) -> Vec<Value> {
        let deadline = Instant::now() + for_;
        let mut seen = Vec::new();
        while let Ok(value) =
            self.events.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            seen.push(value);
        }
        seen
    }

    /// Sends Ctrl-C (SIGINT) and returns how it exited.
    fn interrupt(mut self) -> ExitStatus {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap();
        assert!(sent.success(), "kill -INT {pid}");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(line) = self.stderr.try_recv() {
                    eprintln!("deskrun status --watch: {line}");
                }
                return status;
            }
            assert!(Instant::now() < deadline, "status --watch did not stop on Ctrl-C");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn job_events(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["event"] == "job_started" || e["event"] == "job_finished").collect()
}

fn runners(client: &kube::Client) -> kube::Api<DynamicObject> {
    kube::Api::namespaced_with(client.clone(), NS, &arc_resource("EphemeralRunner"))
}

/// Creates EphemeralRunner `name` of scale set `web` as ARC's controller does, with `status`.
async fn create_runner(client: &kube::Client, name: &str, status: Value) {
    let resource = arc_resource("EphemeralRunner");
    let runner: DynamicObject = serde_json::from_value(json!({
        "apiVersion": resource.api_version, "kind": resource.kind,
        "metadata": {"name": name, "namespace": NS,
                     "labels": {"actions.github.com/scale-set-name": "web",
                                "actions.github.com/scale-set-namespace": NS}},
        "spec": {
            "githubConfigUrl": "https://github.com/acme/web",
            "githubConfigSecret": "deskrun-web-github",
            "runnerScaleSetId": 1,
            "spec": {"containers": [{"name": "runner", "image": "ghcr.io/actions/actions-runner"}]},
        },
    }))
    .unwrap();
    runners(client).create(&PostParams::default(), &runner).await.expect("create the runner");
    set_status(client, name, status).await;
}

/// Merges `status` into the runner's status subresource, as ARC's listener patches it.
async fn set_status(client: &kube::Client, name: &str, status: Value) {
    runners(client)
        .patch_status(name, &PatchParams::default(), &Patch::Merge(json!({"status": status})))
        .await
        .unwrap_or_else(|e| panic!("patch the status of {name}: {e}"));
}

/// The fields ARC's listener sets when the runner takes a job.
fn job_fields(request_id: i64, job_id: &str, name: &str) -> Value {
    json!({"jobRequestId": request_id, "jobId": job_id, "jobDisplayName": name,
           "jobRepositoryName": "acme/web", "workflowRunId": 4242,
           "jobWorkflowRef": "acme/web/.github/workflows/ci.yml@refs/heads/main"})
}

/// What the user would see: a notification per job start and end, with GitHub's result; a
/// restarted watcher neither repeats a start nor loses an end; a Failed runner is no failed
/// job.
#[tokio::test(flavor = "multi_thread")]
async fn jobs_are_announced_started_once_and_finished_once_with_githubs_result() {
    let _cluster = exclusive_cluster().await;
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/acme/web/actions/jobs/77"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": 77, "name": "build (ubuntu)", "status": "completed", "conclusion": "failure",
            "runner_name": "web-runner-1",
            "started_at": "2026-01-02T03:04:05Z", "completed_at": "2026-01-02T03:06:15Z",
        })))
        .expect(1)
        .mount(&github)
        .await;
    let home = Home::new();
    let out = home
        .cmd()
        .args(["add", "web", "-r", "https://github.com/acme/web", "--no-verify", "--no-deploy"])
        .args(["--min-runners", "0"])
        .env("DESKRUN_TOKEN", TOKEN)
        .output()
        .unwrap();
    assert!(out.status.success(), "add web: {}", stderr(&out));
    home.ok(&["up"]);
    let client = client().await;

    let watch = Watch::start(&home, &github);
    create_runner(&client, "web-runner-1", json!({"phase": "Running", "ready": true})).await;
    let online = watch.wait_for("runner_online", EVENT_WITHIN);
    assert_eq!(online["runner"], "web-runner-1", "{online}");
    set_status(&client, "web-runner-1", job_fields(1001, "77", "build (ubuntu)")).await;
    let started = watch.wait_for("job_started", EVENT_WITHIN);
    assert_eq!(started["name"], "build (ubuntu)", "{started}");
    assert_eq!(started["scale_set"], "web");
    assert_eq!(started["repository"], "acme/web");
    assert_eq!(started["run_url"], "https://github.com/acme/web/actions/runs/4242");
    // The controller keeps patching a busy runner; a runner failing without a job is no job.
    set_status(&client, "web-runner-1", json!({"message": "still busy"})).await;
    let failed = json!({"phase": "Failed", "reason": "TooManyPodFailures"});
    create_runner(&client, "web-runner-2", failed).await;
    let quiet = watch.events_during(QUIET_FOR);
    assert!(job_events(&quiet).is_empty(), "one start per job, and no failed job: {quiet:?}");

    runners(&client).delete("web-runner-1", &DeleteParams::default()).await.unwrap();
    let finished = watch.wait_for("job_finished", EVENT_WITHIN);
    assert_eq!(finished["job"]["name"], "build (ubuntu)", "{finished}");
    assert_eq!(finished["result"], "failed", "GitHub's conclusion, not the runner's phase");
    assert_eq!(finished["duration_secs"], 130, "GitHub's times: 2m10s");
    let quiet = watch.events_during(QUIET_FOR);
    assert!(job_events(&quiet).is_empty(), "one finish per job: {quiet:?}");

    // A second job, running while the watcher restarts. GitHub does not know it (404).
    create_runner(&client, "web-runner-3", json!({"phase": "Running"})).await;
    set_status(&client, "web-runner-3", job_fields(1002, "78", "deploy")).await;
    let started = watch.wait_for("job_started", EVENT_WITHIN);
    assert_eq!(started["name"], "deploy");
    assert_eq!(watch.interrupt().code(), Some(0), "Ctrl-C is a normal end of --watch");

    let watch = Watch::start(&home, &github);
    let jobs = watch.status["runners"][0]["jobs"].to_string();
    assert!(jobs.contains("deploy"), "the new process shows the running job in its status: {jobs}");
    set_status(&client, "web-runner-3", json!({"message": "still busy"})).await;
    runners(&client).delete("web-runner-3", &DeleteParams::default()).await.unwrap();
    let finished = watch.wait_for("job_finished", EVENT_WITHIN);
    assert_eq!(finished["job"]["name"], "deploy");
    assert_eq!(finished["result"], "unknown", "no answer from GitHub is \"finished\", not failed");
    assert!(finished["time"].is_string(), "each line says when: {finished}");
    let rest = watch.events_during(QUIET_FOR);
    assert!(
        job_events(&rest).is_empty(),
        "the restarted watcher announced no second start, and one finish: {rest:?}"
    );
    assert_eq!(watch.interrupt().code(), Some(0));
}
