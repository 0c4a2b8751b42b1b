"""Benchmark of the deskrun desktop app (issue #6, the app's half). Prints figures; asserts
nothing about time.

Runs the real release app in the throwaway desktop session of tests/harness/desktop-session
(Xvfb, gnome-keyring, a StatusNotifierWatcher, dunst, and a dbus-monitor logging every
Notify call with its time), against the test harness's real kube-apiserver, with 10 runners
configured by the CLI (`deskrun add ... --no-deploy` ten times, then `deskrun up`). Start it
with tests/bench/app-session, which sets that session up. It measures:

- launch to tray: from starting `deskrun-app --hidden` to its RegisterStatusNotifierItem
  call on the session bus (a dbus-monitor's timestamp), median of several launches; also to
  the tray menu listing all 10 runners as idle (polled every 0.1 s).
- memory of the app and every descendant process (WebKitWebProcess, WebKitNetworkProcess,
  ...), found by walking /proc: the sum of RSS (the goal's "resident"), and the sum of PSS
  (shared pages split between the processes sharing them, so the sum counts them once),
  MB = 2^20 bytes; with the window closed (started --hidden, never opened), open (opened
  with the tray menu's "Open deskrun" over D-Bus, after it settles) and closed again (a
  WM_DELETE_WINDOW message, as a window manager sends for the title bar's close button).
- CPU over 60 s idle in each of those states: utime+stime deltas of the same processes from
  /proc, as % of one core.
- notification latency: from the API write that sets an EphemeralRunner's job fields
  returning to the app's "Job started" Notify call (dbus-monitor's time, same clock as
  time.time()); also from the runner's deletion returning to "Job succeeded" (that path asks
  the fake GitHub for the job's result). p50/p99 over 100 jobs, one at a time.
- burst: 300 EphemeralRunners, each created, set running with a job, set Succeeded and
  deleted, by 16 threads over the API as fast as it takes them: the app's CPU time until the
  last notification, the time to it, and whether each job got exactly one "Job started" and
  one end notification ("Job succeeded", or "Job finished" when GitHub's answer did not come
  in time): the engine's documented "exactly once per watch".
- what if: the open window's memory again in a new launch with
  WEBKIT_DISABLE_COMPOSITING_MODE=1 (not the app's default, so no goal is judged on it):
  WebKit composites the page with GL in its web process, here with Mesa's llvmpipe and so
  libLLVM.

NB: GTK 3 on X11 loads the GL driver (Mesa's: libLLVM, about 50 MB resident) at start-up to
pick visuals and caches the result on the root window (_GDK_VISUALS), so only the first GTK
app on a display pays for it. Here the first launch does; the figures are from the last
launch, as on a desktop where other GTK apps ran first.

Figures go to --out as JSON rows {metric, n, unit, deskrun, peer, peer_name, ratio, goal,
met, note} and to stdout as a table.

Environment (tests/bench/app-session sets it): DESKRUN_APP, DESKRUN_CLI, DESKRUN_CONFIG_DIR,
DESKRUN_DATA_DIR, DESKRUN_GITHUB_API_URL, FAKE_GITHUB_PORT, SESSION_DIR, DISPLAY, plus the
harness exports (KUBECONFIG, PATH with kind/helm/kubectl, DESKRUN_CHART_SOURCE,
DESKRUN_TEST_STATE). It empties the control plane's `deskrun` cluster first, and runs a copy
of DESKRUN_APP from the session's directory (see `launches`).
"""

import argparse
import ctypes
import http.client
import http.server
import json
import math
import os
import re
import shutil
import ssl
import statistics
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from procstat import cpu_ticks, stat_fields

APP = os.environ.get("DESKRUN_APP", "target/release/deskrun-app")
CLI = os.environ.get("DESKRUN_CLI", "target/release/deskrun")
SESSION_DIR = Path(os.environ.get("SESSION_DIR", "/tmp"))
LOGS = SESSION_DIR / "logs"
STATE = Path(os.environ.get("DESKRUN_TEST_STATE", "/tmp/deskrun-control-plane"))
GITHUB_PORT = int(os.environ.get("FAKE_GITHUB_PORT", "18790"))
NS = "arc-systems"
RUNNERS = [f"bench-{i:02d}" for i in range(1, 11)]
TICK = os.sysconf("SC_CLK_TCK")
MB = 1 << 20


def say(message):
    print(f"==> {message}", flush=True)


# --- rows ----------------------------------------------------------------------------------

ROWS = []


def row(metric, value, unit, n=None, goal=None, met=None, note=""):
    ROWS.append({"metric": metric, "n": n, "unit": unit, "deskrun": value, "peer": None,
                 "peer_name": None, "ratio": None, "goal": goal, "met": met, "note": note})


def table():
    lines = [f"{'metric':<72} {'n':>4} {'value':>10} {'unit':<5} {'goal':<12} met"]
    for r in ROWS:
        value = r["deskrun"]
        shown = f"{value:.3f}" if isinstance(value, float) and value < 10 else (
            f"{value:.1f}" if isinstance(value, float) else str(value))
        met = {True: "yes", False: "NO", None: ""}[r["met"]]
        n = "" if r["n"] is None else str(r["n"])
        lines.append(f"{r['metric']:<72} {n:>4} {shown:>10} {r['unit']:<5} "
                     f"{r['goal'] or '':<12} {met}")
    return "\n".join(lines)


# --- a fake GitHub: every job completed, successfully ---------------------------------------


class FakeGitHub(http.server.BaseHTTPRequestHandler):
    """Answers GET /repos/OWNER/REPO/actions/jobs/ID as GitHub's REST API does."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if re.fullmatch(r"/repos/[^/]+/[^/]+/actions/jobs/\d+", self.path):
            body = json.dumps({"id": int(self.path.rsplit("/", 1)[1]), "status": "completed",
                               "conclusion": "success", "started_at": "2026-12-03T17:00:00Z",
                               "completed_at": "2026-12-03T17:02:10Z",
                               "html_url": "https://github.com/acme/x/actions/runs/1/job/1"})
            self.send_response(200)
        else:
            body = json.dumps({"message": "Not Found"})
            self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


class FakeGitHubServer(http.server.ThreadingHTTPServer):
    # NB: the default backlog (5) drops connections in a burst; the app then waits out its
    # 10-second timeout and says "finished" instead of "succeeded".
    request_queue_size = 1024


def fake_github():
    server = FakeGitHubServer(("127.0.0.1", GITHUB_PORT), FakeGitHub)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# --- the API server, over HTTPS with the admin token -----------------------------------------


class Kube:
    """A minimal client of the harness's kube-apiserver: one keep-alive connection per
    thread."""

    def __init__(self):
        env = dict(line.split("=", 1) for line in (STATE / "state.env").read_text().split())
        self.port = int(env["APISERVER_PORT"])
        self.token = (STATE / "admin-token").read_text().strip()
        self.context = ssl.create_default_context(cafile=str(STATE / "pki" / "ca.crt"))
        self.local = threading.local()

    def request(self, method, path, body=None, content_type="application/json"):
        for attempt in range(3):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context,
                                                   timeout=60)
                self.local.conn = conn
            headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                headers["Content-Type"] = content_type
            try:
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt == 2:
                    raise
                continue
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {payload[:300]!r}")
            return json.loads(payload or b"{}")

    def runners_path(self, name=""):
        base = f"/apis/actions.github.com/v1alpha1/namespaces/{NS}/ephemeralrunners"
        return f"{base}/{name}" if name else base

    def create_runner(self, name, scale_set):
        self.request("POST", self.runners_path(), {
            "apiVersion": "actions.github.com/v1alpha1", "kind": "EphemeralRunner",
            "metadata": {"name": name, "namespace": NS,
                         "labels": {"actions.github.com/scale-set-name": scale_set,
                                    "actions.github.com/scale-set-namespace": NS}},
            "spec": {"githubConfigUrl": f"https://github.com/acme/{scale_set}",
                     "githubConfigSecret": f"deskrun-{scale_set}-github", "runnerScaleSetId": 1,
                     "spec": {"containers": [{"name": "runner", "image": "runner"}]}},
        })

    def patch_status(self, name, status):
        self.request("PATCH", self.runners_path(name) + "/status", {"status": status},
                     content_type="application/merge-patch+json")

    def delete_runner(self, name):
        self.request("DELETE", self.runners_path(name))


def job_status(job_id, title, scale_set):
    return {"phase": "Running", "ready": True, "jobRequestId": job_id, "jobId": str(job_id),
            "jobDisplayName": title, "jobRepositoryName": f"acme/{scale_set}",
            "workflowRunId": 4242,
            "jobWorkflowRef": f"acme/{scale_set}/.github/workflows/ci.yml@refs/heads/main"}


# --- processes: the app and its descendants, from /proc ---------------------------------------


def family(pid):
    """`pid` and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(stat_fields(entry)[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def memory(pid):
    """(RSS sum, PSS sum, [(name, rss)]) in MB over `pid` and its descendants."""
    rss = pss = 0
    each = []
    for member in family(pid):
        try:
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        kb = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+):\s+(\d+) kB", rollup,
                                                                 re.M)}
        rss += kb.get("Rss", 0)
        pss += kb.get("Pss", 0)
        each.append((comm(member), kb.get("Rss", 0) * 1024 / MB))
    return rss * 1024 / MB, pss * 1024 / MB, each


class CpuMeter:
    """CPU time of a process tree between start() and stop(), following processes that come
    and go (a new process counts from zero; one that ends keeps what was last seen, and its
    parent's reaped-children time catches the rest)."""

    def __init__(self, pid):
        self.pid = pid

    def sample(self):
        seen = {}
        for member in family(self.pid):
            try:
                seen[member] = cpu_ticks(member, reaped=True)
            except (OSError, IndexError):
                pass
        return seen

    def start(self):
        self.first = self.sample()
        self.last = dict(self.first)
        self.began = time.time()

    def poll(self):
        self.last.update(self.sample())

    def stop(self):
        self.poll()
        self.wall = time.time() - self.began
        ticks = sum(t - self.first.get(p, 0) for p, t in self.last.items())
        return ticks / TICK


def idle_cpu(pid, seconds):
    """% of one core the app tree used over `seconds` of doing nothing."""
    meter = CpuMeter(pid)
    meter.start()
    deadline = time.time() + seconds
    while time.time() < deadline:
        time.sleep(min(5, max(0, deadline - time.time())))
        meter.poll()
    used = meter.stop()
    return 100 * used / meter.wall, used


# --- the session bus: tray and notifications -------------------------------------------------


def gdbus(*args, check=True):
    out = subprocess.run(["gdbus", "call", "--session", *args], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(out.stderr)
    return out.stdout


def tray_item(pid):
    """The (bus name, object path) of the tray item process `pid` registered, or None. (The
    watcher may still list a quit app's item for a moment: the owner's PID tells them apart.)
    """
    out = gdbus("--dest", "org.kde.StatusNotifierWatcher", "--object-path",
                "/StatusNotifierWatcher", "--method", "org.freedesktop.DBus.Properties.Get",
                "org.kde.StatusNotifierWatcher", "RegisteredStatusNotifierItems", check=False)
    for item in re.findall(r"'([^']+)'", out):
        name, _, path = item.partition("/")
        owner = gdbus("--dest", "org.freedesktop.DBus", "--object-path", "/org/freedesktop/DBus",
                      "--method", "org.freedesktop.DBus.GetConnectionUnixProcessID", name,
                      check=False)
        if not re.search(rf"\b{pid}\b", owner):
            continue
        if path:
            return name, "/" + path
        # appindicator registers its bus name only; the item's object path is found by looking.
        tree = subprocess.run(
            ["gdbus", "introspect", "--session", "--dest", name, "--object-path", "/",
             "--recurse"], capture_output=True, text=True,
        ).stdout
        paths = re.findall(r"node (/\S+) \{", tree)
        paths = [p for p in paths if "NotificationItem/" in p and not p.endswith("/Menu")]
        return (name, paths[0]) if paths else None
    return None


def menu_layout(item):
    name, path = item
    prop = gdbus("--dest", name, "--object-path", path, "--method",
                 "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierItem", "Menu")
    menu_path = re.search(r"objectpath '([^']+)'", prop).group(1)
    layout = gdbus("--dest", name, "--object-path", menu_path, "--method",
                   "com.canonical.dbusmenu.GetLayout", "--", "0", "-1", "@as []")
    return menu_path, layout


def click_menu(item, label):
    name, _ = item
    for _ in range(20):
        menu_path, layout = menu_layout(item)
        ids = re.findall(r"\((\d+), \{[^}]*'label': <'" + re.escape(label) + "'>", layout)
        if ids:
            out = subprocess.run(
                ["gdbus", "call", "--session", "--dest", name, "--object-path", menu_path,
                 "--method", "com.canonical.dbusmenu.Event", "--", ids[0], "clicked",
                 "<int32 0>", "0"], capture_output=True, text=True)
            if out.returncode == 0:
                return
        # The app redraws its menu from events; an id read just before a redraw is gone.
        time.sleep(0.2)
    raise RuntimeError(f"could not click {label!r} in the tray menu")


def wait_menu_idle(item, timeout=120):
    """Waits until the tray menu lists every runner as idle."""
    deadline = time.time() + timeout
    while True:
        try:
            layout = menu_layout(item)[1]
            if all(f"{name} — idle" in layout for name in RUNNERS):
                return time.time()
        except (RuntimeError, AttributeError):
            pass
        if time.time() > deadline:
            raise RuntimeError("the tray menu never listed every runner as idle")
        time.sleep(0.1)


class BusLog:
    """Method calls of a line-buffered dbus-monitor log, parsed as the file grows: a list of
    (time, member, top-level string arguments)."""

    HEADER = re.compile(r"^method call time=([\d.]+) .*member=(\w+)$")
    STRING = re.compile(r'^   string "(.*)"$')

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.pending = ""
        self.calls = []

    def read(self):
        try:
            with open(self.path) as f:
                f.seek(self.offset)
                chunk = f.read()
                self.offset = f.tell()
        except FileNotFoundError:
            return self.calls
        text = self.pending + chunk
        lines = text.split("\n")
        self.pending = lines.pop()  # an unfinished line
        for line in lines:
            header = self.HEADER.match(line)
            if header:
                self.calls.append((float(header.group(1)), header.group(2), []))
            elif self.calls and (string := self.STRING.match(line)):
                self.calls[-1][2].append(string.group(1))
        return self.calls


class Notifications(BusLog):
    """The Notify calls' (time, summary) in the session's notifications.log."""

    def __init__(self):
        super().__init__(LOGS / "notifications.log")

    def summaries(self):
        # Notify(app_name, replaces_id, app_icon, summary, body, ...): the 3rd string.
        return [(t, args[2]) for t, member, args in self.read()
                if member == "Notify" and len(args) >= 3]

    def wait(self, summary, since, timeout=30):
        deadline = time.time() + timeout
        while True:
            for t, text in self.summaries():
                if text == summary and t >= since:
                    return t
            if time.time() > deadline:
                raise RuntimeError(f"no notification {summary!r} within {timeout}s")
            time.sleep(0.005)


def tray_monitor():
    """A dbus-monitor on tray registrations, and its log."""
    path = LOGS / "tray-registrations.log"
    log = open(path, "w")
    process = subprocess.Popen(
        ["stdbuf", "-oL", "dbus-monitor", "--session",
         "interface='org.kde.StatusNotifierWatcher',member='RegisterStatusNotifierItem'"],
        stdout=log, stderr=subprocess.STDOUT)
    time.sleep(0.5)
    return process, BusLog(path)


# --- the window, on the X display --------------------------------------------------------------


def app_window():
    """The X id of the app's visible window, or None."""
    out = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", "^deskrun$"],
                         capture_output=True, text=True)
    ids = out.stdout.split()
    return int(ids[0]) if ids else None


class XClientMessage(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("serial", ctypes.c_ulong), ("send_event", ctypes.c_int),
                ("display", ctypes.c_void_p), ("window", ctypes.c_ulong),
                ("message_type", ctypes.c_ulong), ("format", ctypes.c_int),
                ("data", ctypes.c_long * 5)]


class XEvent(ctypes.Union):
    _fields_ = [("xclient", XClientMessage), ("pad", ctypes.c_long * 24)]


IGNORE_X_ERRORS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)(lambda *_: 0)


def close_window(window):
    """Sends WM_DELETE_WINDOW, as a window manager does for the close button (there is no
    window manager here, and xdotool's windowclose destroys the window under GTK's feet)."""
    x11 = ctypes.CDLL("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long,
                               ctypes.POINTER(XEvent)]
    x11.XFlush.argtypes = [ctypes.c_void_p]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    # NB: Xlib's default error handler exits the process (e.g. on a window already gone).
    x11.XSetErrorHandler(IGNORE_X_ERRORS)
    display = x11.XOpenDisplay(None)
    if not display:
        raise RuntimeError("cannot open the X display")
    event = XEvent()
    event.xclient.type = 33  # ClientMessage
    event.xclient.window = window
    event.xclient.message_type = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
    event.xclient.format = 32
    event.xclient.data[0] = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
    event.xclient.data[1] = 0  # CurrentTime
    x11.XSendEvent(display, window, 0, 0, ctypes.byref(event))
    x11.XFlush(display)
    x11.XCloseDisplay(display)


def screenshot(name):
    subprocess.run(["import", "-window", "root", str(LOGS / f"{name}.png")], capture_output=True)


# --- the app ------------------------------------------------------------------------------------


class App:
    """One launch of the app, --hidden, with its log in the session's logs."""

    count = 0

    def __init__(self, binary, env=None):
        App.count += 1
        self.log = open(LOGS / f"app-{App.count}.log", "w")
        self.started = time.time()
        self.process = subprocess.Popen([binary, "--hidden"], stdout=self.log,
                                        stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
        self.pid = self.process.pid

    def quit(self):
        """Quits through the tray menu, as a user does; the process must end."""
        item = tray_item(self.pid)
        if item is not None:
            try:
                click_menu(item, "Quit deskrun")
            except RuntimeError as error:
                # Quit ends the app at once: its answer to the click, or the next read of its
                # menu, may never come. Whether it ended is what the wait below tells.
                if self.process.poll() is None:
                    say(f"  quit through the tray menu failed: {error}")
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.log.close()
        deadline = time.time() + 10
        while tray_item(self.pid) is not None and time.time() < deadline:
            time.sleep(0.1)


def wait_registered(registrations, since, timeout=30):
    deadline = time.time() + timeout
    while True:
        for t, member, _ in registrations.read():
            if member == "RegisterStatusNotifierItem" and t >= since:
                return t
        if time.time() > deadline:
            raise RuntimeError("the tray item never registered")
        time.sleep(0.01)


# --- the phases --------------------------------------------------------------------------------


def setup():
    say("a fresh cluster with 10 runners (deskrun add --no-deploy, then deskrun up)")
    subprocess.run(["kind", "delete", "cluster", "--name", "deskrun"], capture_output=True)
    for key in ("DESKRUN_CONFIG_DIR", "DESKRUN_DATA_DIR"):
        shutil.rmtree(os.environ[key], ignore_errors=True)
        Path(os.environ[key]).mkdir(parents=True)
    for name in RUNNERS:
        subprocess.run([CLI, "add", name, "-r", f"https://github.com/acme/{name}",
                        "--token-stdin", "--no-verify", "--no-deploy"], input="ghp_x",
                       capture_output=True, text=True, check=True)
    began = time.time()
    out = subprocess.run([CLI, "up"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"deskrun up failed: {out.stderr}")
    say(f"deskrun up took {time.time() - began:.1f} s")


def launches(registrations, count):
    say(f"launch to tray, {count} launches")
    # NB: a copy, run from the session's directory: the app tests end stray apps with
    # `pkill -f ^$DESKRUN_APP`, which must not hit this one when both run at once.
    binary = SESSION_DIR / "bin" / "deskrun-app"
    binary.parent.mkdir(exist_ok=True)
    shutil.copy2(APP, binary)
    to_item, to_menu = [], []
    app = None
    for i in range(count):
        if app is not None:
            app.quit()
            time.sleep(1)
        app = App(binary)
        registered = wait_registered(registrations, app.started)
        to_item.append(registered - app.started)
        to_menu.append(wait_menu_idle(wait_tray(app.pid)) - app.started)
        say(f"  launch {i + 1}: tray item after {to_item[-1] * 1000:.0f} ms, "
            f"10 runners idle in the menu after {to_menu[-1]:.2f} s")
    note = ", ".join(f"{t * 1000:.0f}" for t in to_item) + " ms (first launch has cold caches)"
    row("launch to tray item registered (median)", statistics.median(to_item) * 1000, "ms",
        n=count, note=note)
    row("launch to tray menu listing 10 runners idle (median)", statistics.median(to_menu), "s",
        n=count, note="menu polled every 0.1 s; " + ", ".join(f"{t:.2f}" for t in to_menu)
        + " s")
    return app, binary


def wait_tray(pid, timeout=20):
    deadline = time.time() + timeout
    while (item := tray_item(pid)) is None:
        if time.time() > deadline:
            raise RuntimeError("no tray item")
        time.sleep(0.05)
    return item


def measure_state(app, label, idle_seconds, memory_goal, variant=""):
    """Memory rows, and with `idle_seconds` the idle CPU row, for one window state."""
    rss, pss, each = memory(app.pid)
    if idle_seconds:
        cpu, used = idle_cpu(app.pid, idle_seconds)
        rss, pss, each = memory(app.pid)
    processes = ", ".join(f"{name} {mb:.0f}" for name, mb in each)
    say(f"  {label}: RSS {rss:.1f} MB, PSS {pss:.1f} MB ({processes})"
        + (f", CPU {cpu:.3f}% of a core ({used:.2f} s in {idle_seconds} s)" if idle_seconds
           else ""))
    goal, met = f"< {memory_goal} MB", rss < memory_goal
    note = f"RSS per process (MB): {processes}"
    if variant:
        # NB: not the app's default: no goal is judged on it.
        goal, met = None, None
        note = (f"{variant}; the goal (< {memory_goal} MB) would be "
                f"{'met' if rss < memory_goal else 'missed'}; {note}")
        label = f"{label} [{variant}]"
    elif idle_seconds:
        note = "after the idle minute; " + note
    row(f"memory, window {label}: RSS sum, app + children", rss, "MB", n=len(each),
        goal=goal, met=met, note=note)
    row(f"memory, window {label}: PSS sum, app + children", pss, "MB", n=len(each),
        note="shared pages split between the processes sharing them (also other sessions' "
        "WebKit processes on this machine); the goal is judged on RSS")
    if idle_seconds:
        goal_cpu, met_cpu = ("< 0.1%", cpu < 0.1) if "closed" in label else (None, None)
        row(f"CPU idle, window {label}: % of one core over {idle_seconds} s", cpu, "%",
            goal=goal_cpu, met=met_cpu, note=f"{used:.2f} s CPU (utime+stime, app + children)")


def open_window(app):
    click_menu(wait_tray(app.pid), "Open deskrun")
    deadline = time.time() + 30
    while (window := app_window()) is None:
        if time.time() > deadline:
            raise RuntimeError("the window never showed")
        time.sleep(0.1)
    return window


def shut_window(app, window):
    close_window(window)
    deadline = time.time() + 10
    while app_window() is not None:
        if time.time() > deadline:
            raise RuntimeError("the window did not close")
        time.sleep(0.1)
    deadline = time.time() + 15
    while len(family(app.pid)) > 1 and time.time() < deadline:
        time.sleep(0.2)
    return [comm(p) for p in family(app.pid)[1:]]


def window_states(app, idle_seconds):
    """Closed (never opened), open, closed again: memory and idle CPU."""
    say("window closed (never opened)")
    time.sleep(10)
    measure_state(app, "closed", idle_seconds, 80)
    say("opening the window from the tray menu")
    window = open_window(app)
    time.sleep(20)  # let the page load and settle
    screenshot("bench-window-open")
    measure_state(app, "open", idle_seconds, 400)
    say("closing the window (WM_DELETE_WINDOW)")
    left = shut_window(app, window)
    say(f"  window closed; child processes left: {left or 'none'}")
    time.sleep(10)
    measure_state(app, "closed again", idle_seconds, 80)


def variant(binary, env):
    """The open window's memory with `env` added to the app's environment."""
    label = " ".join(f"{k}={v}" for k, v in env.items())
    say(f"what if: {label}")
    app = App(binary, env)
    try:
        wait_menu_idle(wait_tray(app.pid))
        open_window(app)
        time.sleep(20)
        screenshot("bench-window-open-variant")
        measure_state(app, "open", 0, 400, variant=label)
    finally:
        app.quit()


def percentile(values, p):
    """The nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def latency(kube, notes, jobs):
    say(f"notification latency, {jobs} jobs one at a time")
    started, finished = [], []
    # NB: the app can be quicker than this client: its Notify may come before the write's
    # response has been read here. Such a latency is negative, and kept as it is.
    for i in range(jobs):
        name, scale_set = f"lat-{i:03d}", RUNNERS[i % len(RUNNERS)]
        title = f"latency job {i:03d}"
        kube.create_runner(name, scale_set)
        kube.patch_status(name, {"phase": "Running", "ready": True})
        time.sleep(0.05)
        issued = time.time()
        kube.patch_status(name, job_status(100000 + i, title, scale_set))
        written = time.time()
        started.append(notes.wait(f"Job started: {title}", issued) - written)
        issued = time.time()
        kube.delete_runner(name)
        deleted = time.time()
        finished.append(notes.wait(f"Job succeeded: {title}", issued) - deleted)
    ms = [s * 1000 for s in started]
    early = sum(1 for s in started if s < 0)
    say(f"  started: p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
        f"max {max(ms):.1f} ms")
    row("notification latency, job started: p50", percentile(ms, 50), "ms", n=jobs,
        note="API write of the job fields returned -> Notify on the session bus; "
        f"{early} Notify calls came before this client had read the write's response")
    row("notification latency, job started: p99", percentile(ms, 99), "ms", n=jobs,
        goal="< 500 ms", met=percentile(ms, 99) < 500, note=f"max {max(ms):.1f} ms")
    done = [s * 1000 for s in finished]
    row("notification latency, job finished: p50", percentile(done, 50), "ms", n=jobs,
        note="runner deletion returned -> Notify; includes asking the fake GitHub (local) "
        "for the result with the token from the keyring")
    row("notification latency, job finished: p99", percentile(done, 99), "ms", n=jobs,
        note=f"max {max(done):.1f} ms")


def server_replies(since):
    """How long the notification server took to answer each Notify call made after `since`
    (seconds): the calls from notifications.log, matched by sender and serial with the replies
    in notify-replies.log (see `burst`)."""
    call = re.compile(r"^method call time=([\d.]+) sender=(\S+) .*serial=(\d+) .*member=Notify$",
                      re.M)
    reply = re.compile(r"^method return time=([\d.]+) .*destination=(\S+) serial=\d+ "
                       r"reply_serial=(\d+)$", re.M)
    replies = {(m.group(2), m.group(3)): float(m.group(1))
               for m in reply.finditer((LOGS / "notify-replies.log").read_text())}
    took = []
    for m in call.finditer((LOGS / "notifications.log").read_text()):
        at, key = float(m.group(1)), (m.group(2), m.group(3))
        if at >= since and key in replies:
            took.append(replies[key] - at)
    return took


def burst(kube, notes, app, count, threads):
    say(f"burst: {count} runners created, running a job, Succeeded, deleted; {threads} threads")
    # The notification server's answers, to tell its time from the app's: the app shows one
    # notification after another, each once the server has answered the one before.
    replies = subprocess.Popen(
        ["stdbuf", "-oL", "dbus-monitor", "--session",
         "type='method_return',sender='org.freedesktop.Notifications'"],
        stdout=open(LOGS / "notify-replies.log", "w"), stderr=subprocess.STDOUT)
    time.sleep(0.5)
    meter = CpuMeter(app.pid)
    before = len(notes.summaries())

    def one(i):
        name, scale_set = f"burst-{i:03d}", RUNNERS[i % len(RUNNERS)]
        kube.create_runner(name, scale_set)
        kube.patch_status(name, job_status(200000 + i, f"burst job {i:03d}", scale_set))
        kube.patch_status(name, {"phase": "Succeeded"})
        kube.delete_runner(name)

    meter.start()
    began = time.time()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(count)))
    written = time.time()
    say(f"  {count * 4} API writes in {written - began:.2f} s")
    # Wait until every job has both notifications, or nothing new comes for 30 s.
    finished_re = re.compile(r"Job (succeeded|failed|cancelled|skipped|finished): burst job "
                             r"(\d{3})$")
    started_re = re.compile(r"Job started: burst job (\d{3})$")

    def tally():
        started, finished, words = {}, {}, {}
        for t, text in notes.summaries()[before:]:
            if m := started_re.match(text):
                started[m.group(1)] = started.get(m.group(1), 0) + 1
            elif m := finished_re.match(text):
                finished[m.group(2)] = finished.get(m.group(2), 0) + 1
                words[m.group(1)] = words.get(m.group(1), 0) + 1
        return started, finished, words

    quiet_since, seen = time.time(), before
    while True:
        started, finished, _ = tally()
        if (len(started) == count and len(finished) == count) or \
                time.time() - quiet_since > 30:
            break
        if len(notes.summaries()) != seen:
            seen, quiet_since = len(notes.summaries()), time.time()
        meter.poll()
        time.sleep(0.1)
    cpu = meter.stop()
    # NB: the server's last answers can take over a second (p99 1.2 s in a 300-job burst).
    time.sleep(3)
    replies.terminate()
    replies.wait(timeout=10)
    server = sorted(server_replies(began))
    started, finished, words = tally()
    times = [t for t, text in notes.summaries()[before:] if "burst job" in text]
    last = max(times, default=written)
    doubled = sum(1 for n in [*started.values(), *finished.values()] if n > 1)
    missing = 2 * count - len(started) - len(finished)
    logs = Path(os.environ.get("XDG_DATA_HOME", "/nonexistent")) / "dev.deskrun.app" / "logs"
    lagged = sum(f.read_text(errors="replace").count("activity events dropped")
                 for f in logs.glob("deskrun.log*"))
    said = ", ".join(f"{n} {word}" for word, n in sorted(words.items()))
    say(f"  jobs with a start notification: {len(started)}, with an end one: {len(finished)} "
        f"({said}); {doubled} doubled, {missing} missing; last Notify {last - began:.2f} s "
        f"after the first write, {last - written:.2f} s after the last; app CPU {cpu:.2f} s")
    row("burst: API writes", count * 4, "count", n=count,
        note=f"create, job started, Succeeded, delete per runner; {written - began:.2f} s "
        f"with {threads} threads")
    row("burst: first write to last notification", last - began, "s", n=count)
    row("burst: last write to last notification", last - written, "s", n=count)
    row("burst: app CPU time (app + children), first write to last notification", cpu, "s",
        n=count, note=f"{100 * cpu / max(last - began, 1e-9):.0f}% of one core on average")
    if server:
        say(f"  the notification server answered Notify in p50 {percentile(server, 50) * 1000:.0f}"
            f" ms, max {server[-1] * 1000:.0f} ms; {sum(server):.1f} s in all")
        row("burst: notification server's answer to Notify, total", sum(server), "s", n=count,
            note=f"p50 {percentile(server, 50) * 1000:.0f} ms, p99 "
            f"{percentile(server, 99) * 1000:.0f} ms, max {server[-1] * 1000:.0f} ms over "
            f"{len(server)} calls: the time to the last notification is mostly this wait")
    row("burst: jobs with a 'Job started' notification", len(started), "count", n=count,
        goal=f"= {count}", met=len(started) == count)
    row("burst: jobs with a 'Job <result>' notification", len(finished), "count", n=count,
        goal=f"= {count}", met=len(finished) == count,
        note=f"{said} ('finished': GitHub's answer did not come; the fake says success)")
    row("burst: notifications doubled", doubled, "count", n=count, goal="= 0", met=doubled == 0,
        note=f"{missing} of {2 * count} expected notifications missing; the app's log says "
        f"'activity events dropped' {lagged} times (over the whole run)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="JSON file for the rows")
    parser.add_argument("--launches", type=int, default=5)
    parser.add_argument("--idle-seconds", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--no-what-if", action="store_true",
                        help="skip the open window's memory without GL compositing")
    parser.add_argument("--only", choices=["burst"],
                        help="after setup and one launch, run only this section")
    args = parser.parse_args()

    began = time.time()
    github = fake_github()
    monitor, registrations = tray_monitor()
    app = None
    try:
        setup()
        app, binary = launches(registrations, 1 if args.only else args.launches)
        if not args.only:
            window_states(app, args.idle_seconds)
        kube, notes = Kube(), Notifications()
        if not args.only:
            latency(kube, notes, args.jobs)
        burst(kube, notes, app, args.burst, args.threads)
        app.quit()
        if not args.no_what_if and not args.only:
            # NB: WebKit composites the page with GL (here Mesa's llvmpipe, with libLLVM) in
            # its web process; this is the app's own setting away (hardware acceleration
            # policy "never").
            variant(binary, {"WEBKIT_DISABLE_COMPOSITING_MODE": "1"})
    finally:
        if app is not None and app.process.poll() is None:
            app.quit()
        monitor.terminate()
        monitor.wait()
        github.shutdown()
        subprocess.run(["kind", "delete", "cluster", "--name", "deskrun"], capture_output=True)
    row("bench run, end to end", time.time() - began, "s", note="setup included")
    Path(args.out).write_text(json.dumps(ROWS, indent=1) + "\n")
    print(table())


if __name__ == "__main__":
    main()
