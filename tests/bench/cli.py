#!/usr/bin/env python3
"""Benchmark of the deskrun CLI against Helm by hand (issue #6).

Benchmarks print figures; they are not tests and assert nothing about time.
All figures come from one run on one machine: compare ratios, not seconds.

What it measures, for each N in --sizes (installations, one scale set each):

1. cold `up`: wall time of `deskrun up` on a cluster that exists and is empty
   (freshly created by the harness's stand-in kind: only its Node object), and
   of the peer on an equally empty cluster; API writes of each.
2. unchanged `up`: `deskrun up` again with nothing changed, and the peer
   script run again: wall time and API writes.
3. one installation changed: `deskrun add bench-01 --replace --max-runners M
   --no-verify --no-deploy`, then `deskrun up` (only the `up` is timed); the
   peer edits maxRunners in one values file and reruns its script.
4. `deskrun status` with 3 EphemeralRunners per scale set (created through
   the API, shaped like ARC's: the scale-set labels and the status fields
   deskrun reads). There is no peer for this: the original Go deskrun cannot be
   had here, so `kubectl get autoscalingrunnersets,ephemeralrunners -A` is
   given as a reference point only (it reads the same objects but folds and
   checks nothing).

The peer is Helm by hand, `tests/bench/helm-by-hand`: `helm upgrade --install`
of the controller and of each scale set, one after another, with the credentials
Secrets made by kubectl, as ARC's documentation shows. Its values are the ones
deskrun deployed, read back with `helm get values` at bench time, so both sides
deploy exactly the same releases. The original Go deskrun would be the second
peer, but the Go module proxy here refuses it (403 "not available"), so there
is none; the output says so.

Writes are counted from the API server's audit log ($DESKRUN_TEST_STATE/
audit.log, which tests/control-plane writes: one line per create, update,
patch, delete or deletecollection). Only requests by user `admin` count (that is
the harness's client certificate (and token), which deskrun, helm and kubectl
all use; the API server's own background writes, such as leases and bootstrap
objects, carry other users), and only those it carried out (status < 400): a
refused create, e.g. helm's --create-namespace meeting an existing namespace,
changes nothing and is listed as refused. Nothing else runs as `admin` during
a measured command.

Timing: wall clock around each command, median of --reps repetitions (3 by
default; every cold repetition starts from a new empty cluster, every change
repetition sets another max-runners value). Helm by hand repeats as often up
to N = 10 and once above (a run takes minutes there). `status` and the
reference take the median of 2 × --reps + 1.

deskrun reaches the cluster through `kind` (get clusters, get kubeconfig); here
that is the harness's stand-in, a python program, whose cost is in deskrun's
figures and is printed beside them. Real kind asks Docker instead.

Needs: the exports of `tests/control-plane start` (KUBECONFIG, PATH with kind,
helm and kubectl, DESKRUN_CHART_SOURCE, DESKRUN_TEST_STATE), an unlocked
Secret Service keyring (deskrun keeps its tokens there), and a built deskrun
(default target/release/deskrun; --deskrun to choose). It uses its own
temporary DESKRUN_CONFIG_DIR and DESKRUN_DATA_DIR, never the user's, and
deletes and recreates the kind cluster `deskrun` of that control plane.

    tests/bench/cli.py --out bench-cli.json --sizes 1,10,30

Python 3 standard library only.
"""

import argparse
import base64
import collections
import http.client
import json
import os
import re
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from procstat import cpu_ticks

REPO = Path(__file__).resolve().parents[2]
HELM_BY_HAND = REPO / "tests" / "bench" / "helm-by-hand"
CLUSTER = "deskrun"
NAMESPACE = "arc-systems"
PEER = "helm by hand"
NO_GO_PEER = (
    "no second peer: the original Go deskrun is not served by the Go module proxy here "
    "(go list -m -versions github.com/rkoster/deskrun: 403 not available)"
)
# Who the measured commands act as: the harness's admin certificate and token.
COUNTED_USER = "admin"
# The audit backend writes a request's line as the response completes; a short pause
# before reading makes sure the last request of a command is in the file.
AUDIT_SETTLE_SECONDS = 0.5
RUNNERS_PER_SET = 3
# Up to this N the peer repeats --reps times like deskrun; above it, once.
PEER_REPS_UP_TO = 10


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(argv, env=None, stdin=None, check=True):
    """Runs a command quietly; on failure shows its output and stops the bench."""
    result = subprocess.run(
        argv,
        env=env,
        input=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    if check and result.returncode != 0:
        sys.exit(
            f"bench: {' '.join(map(str, argv))} failed ({result.returncode}):\n"
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return result


def timed(argv, env=None):
    """Wall-clock seconds of one command (which must succeed)."""
    started = time.monotonic()
    run(argv, env=env)
    return time.monotonic() - started


# --- the cluster --------------------------------------------------------------


def empty_cluster(scratch):
    """Deletes every kind cluster of the control plane and creates `deskrun` again.

    With the harness, deleting the last cluster empties the API server (fresh etcd
    prefix); `create` adds only the Node object. A throwaway --kubeconfig keeps the
    harness's kubeconfig (and its current context) untouched.
    """
    throwaway = str(scratch / "kind-kubeconfig")
    names = run(["kind", "get", "clusters"]).stdout.split()
    for name in names:
        run(["kind", "delete", "cluster", "--name", name, "--kubeconfig", throwaway])
    run(["kind", "create", "cluster", "--name", CLUSTER, "--kubeconfig", throwaway])


def apiserver_cpu():
    """CPU seconds (user + system) the harness's kube-apiserver has used so far. Its PID is
    in the control plane's state.env, rewritten when the stand-in kind starts a cluster."""
    env = (Path(os.environ["DESKRUN_TEST_STATE"]) / "state.env").read_text()
    pid = re.search(r"^APISERVER_PID=(\d+)$", env, re.M).group(1)
    return cpu_ticks(pid) / os.sysconf("SC_CLK_TCK")


class Audit:
    """Counts the writes `admin` made to the API server since a mark."""

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def mark(self):
        self.offset = self.path.stat().st_size

    def writes(self):
        """(count, {"verb resource": count}) since the mark.

        A write is a write request the API server carried out (status below 400). One it
        refused, such as helm's --create-namespace meeting an existing namespace (409),
        changed nothing: it is listed in the breakdown as "refused", not counted.
        """
        time.sleep(AUDIT_SETTLE_SECONDS)
        with open(self.path, "rb") as log_file:
            log_file.seek(self.offset)
            lines = log_file.read().decode().splitlines()
        kinds = collections.Counter()
        count = 0
        for line in lines:
            event = json.loads(line)
            if event.get("user", {}).get("username") != COUNTED_USER:
                continue
            resource = event.get("objectRef", {}).get("resource", "?")
            code = event.get("responseStatus", {}).get("code", 0)
            if code >= 400:
                kinds[f"{event['verb']} {resource} refused ({code})"] += 1
            else:
                kinds[f"{event['verb']} {resource}"] += 1
                count += 1
        return count, dict(sorted(kinds.items()))


def breakdown(kinds):
    return ", ".join(f"{n} {kind}" for kind, n in kinds.items()) or "none"


# --- the API, for EphemeralRunners ---------------------------------------------


class ApiClient:
    """A keep-alive HTTPS connection to the API server with $KUBECONFIG's credentials."""

    def __init__(self, scratch):
        view = json.loads(run(["kubectl", "config", "view", "--raw", "--minify", "-o", "json"]).stdout)
        cluster = view["clusters"][0]["cluster"]
        user = view["users"][0]["user"]
        pem = {}
        for key in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            path = scratch / key
            path.write_bytes(base64.b64decode(cluster.get(key) or user[key]))
            path.chmod(0o600)
            pem[key] = str(path)
        context = ssl.create_default_context(cafile=pem["certificate-authority-data"])
        context.load_cert_chain(pem["client-certificate-data"], pem["client-key-data"])
        host_port = cluster["server"].removeprefix("https://")
        self.connection = http.client.HTTPSConnection(host_port, context=context, timeout=30)

    def request(self, method, path, body, content_type="application/json"):
        self.connection.request(
            method, path, json.dumps(body), headers={"Content-Type": content_type}
        )
        response = self.connection.getresponse()
        text = response.read().decode()
        if response.status >= 300:
            sys.exit(f"bench: {method} {path}: {response.status} {text[:500]}")


def create_runners(api, scale_sets):
    """RUNNERS_PER_SET EphemeralRunners per scale set, as ARC's controller makes them
    (scale-set labels, spec) and with the status its listener sets: one running a
    job, one idle, one pending. ARC's controller is not running, so they stay so."""
    base = f"/apis/actions.github.com/v1alpha1/namespaces/{NAMESPACE}/ephemeralrunners"
    statuses = [
        {
            "phase": "Running",
            "ready": True,
            "jobRequestId": 1001,
            "jobId": "77",
            "jobDisplayName": "build (ubuntu)",
            "jobRepositoryName": "acme/web",
            "workflowRunId": 4242,
            "jobWorkflowRef": "acme/web/.github/workflows/ci.yml@refs/heads/main",
        },
        {"phase": "Running", "ready": True},
        {"phase": "Pending"},
    ]
    for scale_set in scale_sets:
        for i, status in enumerate(statuses[:RUNNERS_PER_SET]):
            name = f"{scale_set}-abcde-runner-{i}"
            runner = {
                "apiVersion": "actions.github.com/v1alpha1",
                "kind": "EphemeralRunner",
                "metadata": {
                    "name": name,
                    "namespace": NAMESPACE,
                    "labels": {
                        "actions.github.com/scale-set-name": scale_set,
                        "actions.github.com/scale-set-namespace": NAMESPACE,
                    },
                },
                "spec": {
                    "githubConfigUrl": f"https://github.com/acme/{scale_set}",
                    "githubConfigSecret": f"deskrun-{scale_set}-github",
                    "runnerScaleSetId": 1,
                    "spec": {
                        "containers": [
                            {"name": "runner", "image": "ghcr.io/actions/actions-runner:latest"}
                        ]
                    },
                },
            }
            api.request("POST", base, runner)
            api.request(
                "PATCH",
                f"{base}/{name}/status",
                {"status": status},
                content_type="application/merge-patch+json",
            )


# --- the two sides --------------------------------------------------------------


class Deskrun:
    """The deskrun CLI with its own config and data directories."""

    def __init__(self, binary, scratch, n):
        self.binary = str(binary)
        self.env = dict(
            os.environ,
            DESKRUN_CONFIG_DIR=str(scratch / "config"),
            DESKRUN_DATA_DIR=str(scratch / "data"),
        )
        self.names = [f"bench-{i:02d}" for i in range(1, n + 1)]

    def configure(self):
        """Adds the installations offline: no GitHub check, no deploy."""
        for name in self.names:
            run(
                [self.binary, "add", name, "-r", f"https://github.com/acme/{name}"]
                + ["--token-stdin", "--no-verify", "--no-deploy"],
                env=self.env,
                stdin=f"ghp_bench_{name}",
            )

    def change_one(self, max_runners):
        name = self.names[0]
        run(
            [self.binary, "add", name, "-r", f"https://github.com/acme/{name}"]
            + ["--replace", "--max-runners", str(max_runners), "--no-verify", "--no-deploy"],
            env=self.env,
        )

    def up(self):
        return timed([self.binary, "up"], env=self.env)

    def status(self):
        return timed([self.binary, "status"], env=self.env)

    def tokens(self):
        return {name: f"ghp_bench_{name}" for name in self.names}


class HelmByHand:
    """tests/bench/helm-by-hand with the values deskrun deployed."""

    def __init__(self, scratch):
        self.dir = scratch / "helm-by-hand"

    def capture(self, releases, tokens):
        """Writes the values of every release deskrun deployed (`helm get values`)
        and the tokens, named after the Secrets the values refer to."""
        shutil.rmtree(self.dir, ignore_errors=True)
        (self.dir / "sets").mkdir(parents=True)
        (self.dir / "tokens").mkdir()
        for release in ["arc"] + releases:
            values = run(
                ["helm", "get", "values", release, "--namespace", NAMESPACE, "-o", "json"]
            ).stdout
            if release == "arc":
                (self.dir / "controller.yaml").write_text(values)
                continue
            # JSON is YAML: helm reads the file as it is.
            (self.dir / "sets" / f"{release}.yaml").write_text(values)
            secret = json.loads(values)["githubConfigSecret"]
            (self.dir / "tokens" / secret).write_text(tokens[release])

    def change_one(self, release, max_runners):
        path = self.dir / "sets" / f"{release}.yaml"
        values = json.loads(path.read_text())
        values["maxRunners"] = max_runners
        path.write_text(json.dumps(values))

    def up(self):
        return timed([str(HELM_BY_HAND), str(self.dir)])


# --- one size -----------------------------------------------------------------


def median(values):
    return statistics.median(values)


def most(writes):
    """The repetition with the most writes: (count, breakdown)."""
    return max(writes, key=lambda w: w[0])


def measure_size(n, args, scratch, audit):
    """The figures for N installations: a dict of named medians and write counts."""
    deskrun = Deskrun(args.deskrun, scratch / "deskrun", n)
    helm = HelmByHand(scratch)
    # Helm by hand takes minutes per run at large N: there it runs once.
    peer_reps = args.reps if n <= PEER_REPS_UP_TO else 1
    out = {"peer_reps": peer_reps}
    log(f"N={n}: configuring {n} installation(s)")
    deskrun.configure()

    log(f"N={n}: deskrun cold up x{args.reps}")
    times, writes, server = [], [], []
    for _ in range(args.reps):
        empty_cluster(scratch)
        audit.mark()
        before = apiserver_cpu()
        times.append(deskrun.up())
        server.append(apiserver_cpu() - before)
        writes.append(audit.writes())
    out["cold"], out["cold_writes"], out["cold_server"] = times, most(writes), server

    log(f"N={n}: deskrun unchanged up x{args.reps}")
    times, writes = [], []
    for _ in range(args.reps):
        audit.mark()
        times.append(deskrun.up())
        writes.append(audit.writes())
    out["warm"], out["warm_writes"] = times, most(writes)

    helm.capture(deskrun.names, deskrun.tokens())
    # What one call of the harness's stand-in kind (python) costs: deskrun makes two per
    # `up` and per `status` (get clusters, get kubeconfig), the peer none.
    kind = ["kind", "get", "kubeconfig", "--name", CLUSTER]
    out["kind_call"] = median([timed(kind) for _ in range(2 * args.reps + 1)])

    log(f"N={n}: deskrun status x{2 * args.reps + 1}")
    create_runners(ApiClient(scratch), deskrun.names)
    out["status"] = [deskrun.status() for _ in range(2 * args.reps + 1)]
    kubectl = ["kubectl", "get", "autoscalingrunnersets,ephemeralrunners", "-A"]
    out["kubectl_get"] = [timed(kubectl) for _ in range(2 * args.reps + 1)]

    log(f"N={n}: deskrun up after one change x{args.reps}")
    times, writes = [], []
    for rep in range(args.reps):
        deskrun.change_one(7 + rep)
        audit.mark()
        times.append(deskrun.up())
        writes.append(audit.writes())
    out["change"], out["change_writes"] = times, most(writes)

    log(f"N={n}: helm by hand cold x{peer_reps}")
    times, writes, server = [], [], []
    for _ in range(peer_reps):
        empty_cluster(scratch)
        audit.mark()
        before = apiserver_cpu()
        times.append(helm.up())
        server.append(apiserver_cpu() - before)
        writes.append(audit.writes())
    out["peer_cold"], out["peer_cold_writes"], out["peer_cold_server"] = (
        times, most(writes), server)

    log(f"N={n}: helm by hand unchanged x{peer_reps}")
    times, writes = [], []
    for _ in range(peer_reps):
        audit.mark()
        times.append(helm.up())
        writes.append(audit.writes())
    out["peer_warm"], out["peer_warm_writes"] = times, most(writes)

    log(f"N={n}: helm by hand after one change x{peer_reps}")
    times, writes = [], []
    for rep in range(peer_reps):
        helm.change_one(deskrun.names[0], 7 + rep)
        audit.mark()
        times.append(helm.up())
        writes.append(audit.writes())
    out["peer_change"], out["peer_change_writes"] = times, most(writes)
    return out


# --- rows -----------------------------------------------------------------------


def row(metric, n, unit, ours, peer, peer_name, goal=None, met=None, note=""):
    if peer is None or not ours:
        ratio = None
    else:
        ratio = round(peer / ours, 2)
    digits = 3 if unit == "s" else 1
    return {
        "metric": metric,
        "n": n,
        "unit": unit,
        "deskrun": round(ours, digits),
        "peer": None if peer is None else round(peer, digits),
        "peer_name": peer_name,
        "ratio": ratio,
        "goal": goal,
        "met": met,
        "note": note,
    }


def samples(ours, peer):
    """Every repetition's seconds, so the spread behind a median shows."""
    def show(values):
        return "/".join(f"{v:.2f}" for v in values)

    return f"samples deskrun {show(ours)}, peer {show(peer)}"


def rows_for(n, m, reps):
    """The JSON rows of one size from measure_size's figures."""
    rows = []
    peer_reps = m["peer_reps"]
    medians = f"medians of {reps} (deskrun) and {peer_reps} (helm by hand)"
    most = f"the most of {reps} (deskrun) and {peer_reps} (helm by hand) runs"
    kind = (
        f"deskrun's time includes 2 calls of the harness's stand-in kind (python), "
        f"{m['kind_call']:.2f} s each here"
    )

    cold, peer_cold = median(m["cold"]), median(m["peer_cold"])
    goal = met = None
    if n == 10:
        goal, met = "at least 3x faster than Helm by hand", peer_cold / cold >= 3
    note = f"{medians}; each from a new empty cluster; deskrun runs up to 4 helm processes "
    note += f"at once, the script one after another; {kind}; "
    note += f"{samples(m['cold'], m['peer_cold'])}; {NO_GO_PEER}"
    rows.append(
        row("up, cold (cluster exists and is empty)", n, "s", cold, peer_cold, PEER, goal, met,
            note)
    )
    rows.append(
        row("up, cold: the API server's CPU time", n, "s", median(m["cold_server"]),
            median(m["peer_cold_server"]), PEER,
            note=f"{medians}; user + system time of kube-apiserver from /proc during the "
            "command: a cost both sides pay (most of it digesting ARC's CRD schemas), which "
            "no client can take off a cold up")
    )
    (ours_w, ours_k), (peer_w, peer_k) = m["cold_writes"], m["peer_cold_writes"]
    note = f"{most}; deskrun: {breakdown(ours_k)}; helm by hand: {breakdown(peer_k)}"
    rows.append(row("up, cold: writes", n, "writes", ours_w, peer_w, PEER, note=note))

    warm, peer_warm = median(m["warm"]), median(m["peer_warm"])
    goal = met = None
    if n == 30:
        goal, met = "under 1 s", warm < 1.0
    note = f"{medians}; {kind}; {samples(m['warm'], m['peer_warm'])}; {NO_GO_PEER}"
    rows.append(
        row("up, nothing changed", n, "s", warm, peer_warm, PEER, goal, met, note)
    )
    (ours_w, ours_k), (peer_w, peer_k) = m["warm_writes"], m["peer_warm_writes"]
    note = f"{most}; deskrun: {breakdown(ours_k)}; helm by hand: {breakdown(peer_k)}"
    if ours_w == 0:
        note += "; ratio left empty: deskrun wrote nothing"
    rows.append(
        row("up, nothing changed: writes", n, "writes", ours_w, peer_w, PEER, "zero writes",
            ours_w == 0, note)
    )

    change, peer_change = median(m["change"]), median(m["peer_change"])
    note = f"{medians}; maxRunners of bench-01 set to 7, 8, 9...; only the `up` is timed "
    note += f"(not deskrun's `add --replace`, not the peer's edit); {kind}; "
    note += samples(m["change"], m["peer_change"])
    rows.append(
        row("up after changing one installation", n, "s", change, peer_change, PEER,
            note=note)
    )
    (ours_w, ours_k), (peer_w, peer_k) = m["change_writes"], m["peer_change_writes"]
    note = f"{most}; deskrun: {breakdown(ours_k)}; helm by hand: {breakdown(peer_k)}"
    rows.append(
        row("up after changing one installation: writes", n, "writes", ours_w, peer_w, PEER,
            note=note)
    )

    status, kubectl_get = median(m["status"]) * 1000, median(m["kubectl_get"]) * 1000
    note = f"medians of {2 * reps + 1}; not a peer: the reference only lists the objects, "
    note += "deskrun also reads runner sets and listener pods and folds them per scale set; "
    note += f"{kind}; {samples(m['status'], m['kubectl_get'])}; {NO_GO_PEER}"
    rows.append(
        row(f"status, {RUNNERS_PER_SET} EphemeralRunners per scale set", n, "ms", status,
            kubectl_get,
            "kubectl get autoscalingrunnersets,ephemeralrunners -A (reference, not a peer)",
            note=note)
    )
    return rows


def print_table(rows):
    headers = ["metric", "N", "unit", "deskrun", "peer", "ratio", "goal met"]
    lines = []
    for r in rows:
        goal = "" if r["goal"] is None else f"{'yes' if r['met'] else 'NO'} ({r['goal']})"
        lines.append(
            [
                r["metric"],
                "" if r["n"] is None else str(r["n"]),
                r["unit"],
                f"{r['deskrun']:g}",
                "" if r["peer"] is None else f"{r['peer']:g}",
                "" if r["ratio"] is None else f"{r['ratio']:g}x",
                goal,
            ]
        )
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    print(fmt.format(*headers))
    for line in lines:
        print(fmt.format(*line))
    print()
    print(f"peer: {PEER} (tests/bench/helm-by-hand); ratio = peer / deskrun, >1: deskrun is better")
    print(NO_GO_PEER)


def preflight(args):
    for var in ("KUBECONFIG", "DESKRUN_TEST_STATE", "DESKRUN_CHART_SOURCE"):
        if not os.environ.get(var):
            sys.exit(f'bench: {var} is not set: eval "$(tests/control-plane start)" first')
    if not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        sys.exit("bench: no D-Bus session: deskrun needs an unlocked Secret Service keyring")
    audit = Path(os.environ["DESKRUN_TEST_STATE"]) / "audit.log"
    if not audit.is_file():
        sys.exit(
            f"bench: {audit} is missing: the control plane predates its audit log; "
            "restart it (tests/control-plane stop, then start)"
        )
    if not Path(args.deskrun).is_file():
        sys.exit(f"bench: no deskrun at {args.deskrun}: cargo build --locked --release -p deskrun")
    return Audit(audit)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="the JSON rows go here")
    parser.add_argument("--sizes", default="1,10,30", help="installation counts, e.g. 1,10,30")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (median)")
    parser.add_argument(
        "--deskrun",
        default=str(REPO / "target" / "release" / "deskrun"),
        help="the deskrun binary (default: target/release/deskrun)",
    )
    args = parser.parse_args()
    audit = preflight(args)
    sizes = [int(s) for s in args.sizes.split(",") if s]

    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="deskrun-bench-cli-") as tmp:
        for n in sizes:
            scratch = Path(tmp) / f"n{n}"
            scratch.mkdir()
            rows += rows_for(n, measure_size(n, args, scratch, audit), args.reps)
        empty_cluster(Path(tmp))
    total = time.monotonic() - started
    rows.append(
        row(
            "whole CLI bench",
            None,
            "s",
            total,
            None,
            None,
            note=f"sizes {args.sizes}, {args.reps} repetitions, binary {args.deskrun}",
        )
    )
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")
    print_table(rows)


if __name__ == "__main__":
    main()
