"""End-to-end tests of the real deskrun desktop app.

The app runs under Xvfb in a throwaway D-Bus session with a real gnome-keyring, a real
StatusNotifierWatcher (tray host) and a real notification server (dunst), driven over
WebDriver (WebKitWebDriver, spoken to directly: see `driver`), against the test harness's real kube-apiserver.
Run by tests/run (tests/app/run sets the session up); each test starts its own app.

Environment (set by tests/app/run): DESKRUN_APP (the built app), DESKRUN_CLI (the CLI),
SESSION_DIR (logs), ARTIFACTS (screenshots), plus the harness exports (KUBECONFIG, PATH with
kind/helm/kubectl, DESKRUN_CHART_SOURCE, DESKRUN_TEST_STATE).
"""

import http.server
import json
import threading
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

DRIVER = "http://127.0.0.1:4444"
APP = os.environ.get("DESKRUN_APP", "")
CLI = os.environ.get("DESKRUN_CLI", "")
SESSION_DIR = Path(os.environ.get("SESSION_DIR", "/tmp"))
ARTIFACTS = Path(os.environ.get("ARTIFACTS", "target/app-artifacts"))
TOKEN = "ghp_appE2eTokenThatMustStayInTheKeyring0123"
NS = "arc-systems"


# --- a tiny WebDriver client ---------------------------------------------------------------


def wd(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        DRIVER + path, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read() or b"{}").get("value")


class Window:
    """A WebDriver session on the app's window."""

    def __init__(self):
        # What tauri-driver turns its `tauri:options` into on Linux. The app inherits the
        # driver's environment (the session's deskrun directories, TAURI_WEBVIEW_AUTOMATION).
        caps = {"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": {"binary": APP}}}}
        self.id = wd("POST", "/session", caps)["sessionId"]

    def run(self, script, *args):
        return wd("POST", f"/session/{self.id}/execute/sync", {"script": script, "args": list(args)})

    def find(self, css, timeout=15):
        """An element by CSS selector, or by XPath when it starts with '//'."""
        using = "xpath" if css.startswith("//") else "css selector"
        deadline = time.time() + timeout
        while True:
            try:
                found = wd(
                    "POST",
                    f"/session/{self.id}/element",
                    {"using": using, "value": css},
                )
                return next(iter(found.values()))
            except urllib.error.HTTPError:
                if time.time() > deadline:
                    raise AssertionError(f"no element {css!r} within {timeout}s")
                time.sleep(0.2)

    def type(self, css, text):
        # NB: the value is set and an `input` event dispatched, as typing does, rather than
        # through WebDriver key events: WebKitWebDriver's synthesized keys intermittently
        # took the driver down here.
        self.find(css)
        self.run(
            "const el = document.querySelector(arguments[0]);"
            "el.focus(); el.value = arguments[1];"
            "el.dispatchEvent(new Event('input', {bubbles: true}));",
            css,
            text,
        )

    def click(self, css):
        element = self.find(css)
        wd("POST", f"/session/{self.id}/element/{element}/click", {})

    def text(self):
        return self.run("return document.body.innerText")

    def wait_text(self, needle, timeout=30):
        deadline = time.time() + timeout
        while needle not in self.text():
            if time.time() > deadline:
                raise AssertionError(f"{needle!r} never shown; page:\n{self.text()}")
            time.sleep(0.2)

    def go(self, route):
        self.run(f"window.location.hash = '#/{route}'")

    def settle(self):
        """Returns once the page has painted twice since now: what the DOM shows is then on
        the screen too (a route change renders on the next frame, not when the hash is set)."""
        wd(
            "POST",
            f"/session/{self.id}/execute/async",
            {
                "script": "const done = arguments[arguments.length - 1];"
                "document.fonts.ready.then(() => requestAnimationFrame(() =>"
                " requestAnimationFrame(() => done(true))));",
                "args": [],
            },
        )

    def screenshot(self, name):
        # NB: taken from the X display (ImageMagick), not through WebDriver: WebKitWebDriver's
        # screenshot intermittently took the driver down, leaving the app orphaned.
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        for _ in range(10):
            self.settle()
            # NB: WebKit paints the frame to the X window after the page's frame callback;
            # a capture right away has shown the previous view.
            time.sleep(1)
            subprocess.run(
                ["import", "-window", "root", "-crop", "1040x720+0+0", str(path)], check=True
            )
            spread = subprocess.run(
                ["convert", str(path), "-format", "%[fx:standard_deviation]", "info:"],
                capture_output=True, text=True, check=True,
            ).stdout
            if float(spread) > 0.02:  # not a blank (one-colour) capture
                return
        raise AssertionError(f"screenshot {name}: the display stayed blank")

    def close(self):
        try:
            wd("DELETE", f"/session/{self.id}")
        except Exception:
            pass


# --- the session bus: tray and notifications -------------------------------------------------


def gdbus(*args):
    out = subprocess.run(["gdbus", "call", "--session", *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def tray_item():
    """The (bus name, object path) of the one registered tray item, or None."""
    out = subprocess.run(
        [
            "gdbus", "call", "--session", "--dest", "org.kde.StatusNotifierWatcher",
            "--object-path", "/StatusNotifierWatcher", "--method",
            "org.freedesktop.DBus.Properties.Get", "org.kde.StatusNotifierWatcher",
            "RegisteredStatusNotifierItems",
        ],
        capture_output=True, text=True,
    )
    items = re.findall(r"'([^']+)'", out.stdout)
    if not items:
        return None
    name, _, path = items[-1].partition("/")
    if path:
        return name, "/" + path
    # appindicator registers its bus name only; the item's object path is found by looking.
    tree = subprocess.run(
        ["gdbus", "introspect", "--session", "--dest", name, "--object-path", "/", "--recurse"],
        capture_output=True, text=True,
    ).stdout
    paths = re.findall(r"node (/\S+) \{", tree)
    items = [p for p in paths if "NotificationItem/" in p and not p.endswith("/Menu")]
    return (name, items[0]) if items else None


def wait_tray(timeout=20):
    deadline = time.time() + timeout
    while (item := tray_item()) is None:
        assert time.time() < deadline, "the tray item never registered"
        time.sleep(0.2)
    return item


def item_property(item, prop):
    name, path = item
    return gdbus(
        "--dest", name, "--object-path", path, "--method", "org.freedesktop.DBus.Properties.Get",
        "org.kde.StatusNotifierItem", prop,
    )


def menu_labels(item):
    name, _ = item
    menu_path = re.search(r"objectpath '([^']+)'", item_property(item, "Menu")).group(1)
    layout = gdbus(
        "--dest", name, "--object-path", menu_path, "--method",
        "com.canonical.dbusmenu.GetLayout", "--", "0", "-1", "@as []",
    )
    return menu_path, layout


def click_menu(item, label):
    name, _ = item
    for _ in range(10):
        menu_path, layout = menu_labels(item)
        # Items look like: (ID, {'label': <'Quit deskrun'>, ...}, ...)
        ids = re.findall(r"\((\d+), \{[^}]*'label': <'" + re.escape(label) + "'>", layout)
        assert ids, f"no menu item {label!r} in {layout}"
        out = subprocess.run(
            ["gdbus", "call", "--session", "--dest", name, "--object-path", menu_path,
             "--method", "com.canonical.dbusmenu.Event", "--", ids[0], "clicked", "<int32 0>",
             "0"],
            capture_output=True, text=True,
        )
        if out.returncode == 0:
            return
        # The app redraws its menu from events; an id read just before a redraw is gone.
        time.sleep(0.2)
    raise AssertionError(f"could not click {label!r}: {out.stderr}")


NOTIFICATIONS = SESSION_DIR / "logs" / "notifications.log"
# Where the current test's notifications start in the session's log: a rerun of a test in
# the same session must not count the notifications of the try before it.
notifications_from = 0


@pytest.fixture(autouse=True)
def own_notifications():
    global notifications_from
    notifications_from = NOTIFICATIONS.stat().st_size if NOTIFICATIONS.exists() else 0


def notifications():
    """The Notify calls the session bus saw since this test began (dbus-monitor's text)."""
    if not NOTIFICATIONS.exists():
        return ""
    with NOTIFICATIONS.open("rb") as log:
        log.seek(notifications_from)
        return log.read().decode(errors="replace")


def notify_count(needle):
    # Each Notify call is one "member=Notify" block; count the blocks that mention needle.
    blocks = notifications().split("member=Notify")[1:]
    return sum(needle in block for block in blocks)


# --- the cluster ---------------------------------------------------------------------------


def kubectl(*args, stdin=None):
    kubeconfig = Path(tempfile.mkdtemp()) / "kind"
    kubeconfig.write_text(
        subprocess.run(
            ["kind", "get", "kubeconfig", "--name", "deskrun"], capture_output=True, text=True,
            check=True,
        ).stdout
    )
    out = subprocess.run(
        ["kubectl", "--kubeconfig", str(kubeconfig), "-n", NS, *args],
        input=stdin, capture_output=True, text=True,
    )
    shutil.rmtree(kubeconfig.parent, ignore_errors=True)
    return out


# --- a fake GitHub: the job's result for notifications -------------------------------------

GITHUB_PORT = int(os.environ.get("FAKE_GITHUB_PORT", "18765"))


class FakeGitHub(http.server.BaseHTTPRequestHandler):
    """Answers GET /repos/OWNER/REPO/actions/jobs/ID as GitHub's REST API does."""

    def do_GET(self):
        if re.fullmatch(r"/repos/[^/]+/[^/]+/actions/jobs/\d+", self.path):
            body = json.dumps({"id": int(self.path.rsplit("/", 1)[1]), "status": "completed",
                               "conclusion": "success", "started_at": "2026-12-03T17:00:00Z",
                               "completed_at": "2026-12-03T17:02:10Z",
                               "html_url": "https://github.com/acme/web/actions/runs/4242/job/77"})
            self.send_response(200)
        else:
            body = json.dumps({"message": "Not Found"})
            self.send_response(404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session", autouse=True)
def github():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", GITHUB_PORT), FakeGitHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield
    server.shutdown()


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def driver():
    """A fresh WebKitWebDriver per test (after an app quits under it, a driver does not serve
    another session reliably), with its and the app's output in the session's logs.

    NB: spoken to directly, not through tauri-driver. tauri-driver only rewrites the session's
    capabilities and sets TAURI_WEBVIEW_AUTOMATION, but its HTTP proxy dropped connections:
    in a loop of window commands, 12 of 15 sessions through it ended in `RemoteDisconnected`
    (its log: "client error (SendRequest) … Connection reset by peer"), and 0 of 10 straight
    to WebKitWebDriver, on the same app and display."""
    log = open(SESSION_DIR / "logs" / "webkit-webdriver.log", "a")
    log.write(f"== {time.strftime('%H:%M:%S')} WebKitWebDriver for the next test\n")
    log.flush()
    process = subprocess.Popen(
        ["WebKitWebDriver", f"--port={DRIVER.rsplit(':', 1)[1]}", "--host=127.0.0.1"],
        stdout=log, stderr=log, env={**os.environ, "TAURI_WEBVIEW_AUTOMATION": "true"},
    )
    deadline = time.time() + 10
    while True:
        try:
            urllib.request.urlopen(DRIVER + "/status", timeout=1)
            break
        except Exception:
            assert time.time() < deadline, "WebKitWebDriver did not start"
            time.sleep(0.1)
    yield
    process.terminate()
    process.wait(timeout=10)
    log.close()
    # An app whose driver went away keeps running (and keeps its tray item): end it, so the
    # next test talks to its own app. Only this build's binary is matched.
    subprocess.run(["pkill", "-f", f"^{APP}"], capture_output=True)
    deadline = time.time() + 10
    while subprocess.run(["pgrep", "-f", f"^{APP}"], capture_output=True).returncode == 0:
        assert time.time() < deadline, "the app did not end"
        time.sleep(0.1)


@pytest.fixture
def home():
    """A fresh deskrun user on a fresh cluster. The driver starts the app with its own
    environment, so the directories are the session's (tests/app/run), emptied per test."""
    subprocess.run(["kind", "delete", "cluster", "--name", "deskrun"], capture_output=True)
    env = {key: os.environ[key] for key in ("DESKRUN_CONFIG_DIR", "DESKRUN_DATA_DIR")}
    # The login item a test (or an earlier try of it) left behind.
    autostart = Path(os.environ["HOME"]) / ".config" / "autostart"
    for directory in [*env.values(), autostart]:
        shutil.rmtree(directory, ignore_errors=True)
        Path(directory).mkdir(parents=True)
    yield env


def start_cluster(env):
    out = subprocess.run([CLI, "up"], capture_output=True, text=True, env={**os.environ, **env})
    assert out.returncode == 0, out.stderr


@pytest.fixture
def window(home):
    window = Window()
    yield window
    window.close()


# --- tests ---------------------------------------------------------------------------------


def add_runner(env, name="web", deploy=True):
    out = subprocess.run(
        [CLI, "add", name, "-r", "https://github.com/acme/web", "--no-verify",
         *([] if deploy else ["--no-deploy"])],
        capture_output=True, text=True, env={**os.environ, **env, "DESKRUN_TOKEN": TOKEN},
    )
    assert out.returncode == 0, out.stderr


def wait_menu(item, needle, timeout=20):
    """The tray menu once it shows `needle` (the app redraws it from events)."""
    deadline = time.time() + timeout
    while True:
        _, layout = menu_labels(item)
        if needle in layout:
            return layout
        assert time.time() < deadline, f"the tray menu never showed {needle!r}: {layout}"
        time.sleep(0.2)


def test_adding_a_runner_stores_the_token_in_the_keyring_and_deploys_it(home, window):
    start_cluster(home)
    window.go("add")
    window.type("input[id$='-name']", "web")
    window.type("input[id$='-repository']", "https://github.com/acme/web")
    window.type("input[id$='-token']", TOKEN)
    # Untick the GitHub check: GitHub is not reachable from here.
    window.click("//label[contains(., 'Check credentials with GitHub')]/input")
    # NB: the click scrolled the form to the checkbox; the screenshot shows it from the top.
    window.run("document.querySelector('h1').scrollIntoView()")
    window.screenshot("add-form-light")
    window.click("button[type=submit]")
    window.wait_text("runs-on: web", timeout=90)
    stored = subprocess.run(
        # A config directory set with DESKRUN_CONFIG_DIR has a keyring service of its own.
        ["secret-tool", "lookup", "service", f"deskrun:{home['DESKRUN_CONFIG_DIR']}",
         "username", "web"],
        capture_output=True, text=True,
    ).stdout
    assert stored == TOKEN, "the token is in the keyring"
    config = (Path(home["DESKRUN_CONFIG_DIR"]) / "config.json").read_text()
    assert TOKEN not in config, "the token is not in the config"
    ars = kubectl("get", "autoscalingrunnersets.actions.github.com", "web", "-o", "name")
    assert ars.returncode == 0, ars.stderr
    wait_menu(wait_tray(), "web —")
    window.go("")
    window.wait_text("web")
    window.screenshot("runners-light")


def test_a_job_notifies_once_turns_the_tray_busy_and_shows_in_the_feed(home):
    add_runner(home)
    start_cluster(home)
    window = Window()
    try:
        job_flow(window, home)
    finally:
        window.close()


def start_job(runner_name, job_name, request_id):
    """Creates an EphemeralRunner of scale set `web` and sets its job fields, as ARC's
    controller and listener do; returns once the API server has them."""
    runner = {
        "apiVersion": "actions.github.com/v1alpha1", "kind": "EphemeralRunner",
        "metadata": {"name": runner_name, "namespace": NS,
                     "labels": {"actions.github.com/scale-set-name": "web",
                                "actions.github.com/scale-set-namespace": NS}},
        "spec": {"githubConfigUrl": "https://github.com/acme/web",
                 "githubConfigSecret": "deskrun-web-github", "runnerScaleSetId": 1,
                 "spec": {"containers": [{"name": "runner", "image": "runner"}]}},
    }
    assert kubectl("create", "-f", "-", stdin=json.dumps(runner)).returncode == 0
    kubectl("patch", "ephemeralrunner", runner_name, "--subresource=status",
            "--type=merge", "-p", json.dumps({"status": {"phase": "Running", "ready": True}}))
    time.sleep(1)
    job = {"status": {"phase": "Running", "jobRequestId": request_id, "jobId": str(request_id * 11),
                      "jobDisplayName": job_name, "jobRepositoryName": "acme/web",
                      "workflowRunId": 4242, "jobWorkflowRef": "acme/web/.github/workflows/ci.yml@refs/heads/main"}}
    out = kubectl("patch", "ephemeralrunner", runner_name, "--subresource=status",
                  "--type=merge", "-p", json.dumps(job))
    assert out.returncode == 0, out.stderr


def job_flow(window, env):
    item = wait_tray()
    wait_menu(item, "web — idle")
    start_job("web-abcde-runner-1", "build (ubuntu)", 7)
    # From the moment the API server has the job fields (kubectl has returned).
    started = time.time()
    # Issue #3 asks for 2 s; measured here it is well under 0.1 s (printed below). Latency
    # figures belong to the benchmarks (issue #6); this bound only says "promptly".
    while notify_count("Job started: build (ubuntu)") == 0:
        assert time.time() - started < 2.0, "no 'started' notification within 2 seconds"
        time.sleep(0.05)
    print(f"'started' notification after {time.time() - started:.2f} s")
    time.sleep(1)
    assert notify_count("Job started: build (ubuntu)") == 1, "exactly one 'started'"
    # Linux trays (appindicator) carry no tooltip: the state sentence is the menu's first line.
    _, layout = menu_labels(item)
    assert "1 job running" in layout and "running build (ubuntu)" in layout, \
        f"the tray turns busy: {layout}"
    window.go("activity")
    window.wait_text("build (ubuntu)")
    window.screenshot("activity-light")
    # A runner added from a terminal while the job runs, and the job ending right after:
    # the app once restarted its watch on every config change, and a job that ended in
    # between was never announced finished (its feed row stayed "running").
    add_runner(env, "docs", deploy=False)
    assert kubectl("delete", "ephemeralrunner", "web-abcde-runner-1").returncode == 0
    # The result comes from GitHub's API (the local fake); when it cannot be asked the
    # notification says "finished" after the lookup's retries (up to 15 s).
    deadline = time.time() + 30
    while notify_count("build (ubuntu)") < 2:
        assert time.time() < deadline, "no 'finished' notification"
        time.sleep(0.1)
    time.sleep(1)
    blocks = notifications().split("member=Notify")[1:]
    finished = [b for b in blocks if re.search(r"Job (succeeded|finished): build \(ubuntu\)", b)]
    assert len(finished) == 1, "exactly one 'finished'"
    print("finished notification:", re.search(r"Job \w+: build", finished[0]).group(0))
    _, layout = menu_labels(item)
    assert "running build" not in layout and "job running" not in layout, \
        f"the tray is idle again: {layout}"


def test_the_tray_follows_what_the_cli_does(home, window):
    """The app is open before the cluster exists; `deskrun add` and `deskrun up` in a
    terminal must show in the tray without a restart (it follows the config file)."""
    item = wait_tray()
    wait_menu(item, "Runners stopped")
    add_runner(home)
    start_cluster(home)
    wait_menu(item, "web — idle", timeout=30)
    # Diagnostics runs the engine's doctor checks, as `deskrun doctor` does.
    window.go("diagnostics")
    window.wait_text("OS keyring", timeout=30)
    window.wait_text("passed")
    window.screenshot("diagnostics-light")


def test_start_at_login_is_off_by_default_and_installs_a_tray_only_login_item(home, window):
    # The login item goes to ~/.config/autostart (XDG_CONFIG_HOME is not consulted there);
    # tests/app/run gives the session its own HOME.
    autostart = Path(os.environ["HOME"]) / ".config" / "autostart"
    window.go("settings")
    box = "//label[contains(., 'when I log in')]/input"
    window.find(box)
    assert not window.run("return document.evaluate(arguments[0], document, null, 9, null)"
                          ".singleNodeValue.checked", box), "off by default"
    assert not list(autostart.glob("*.desktop")), "no login item until asked"
    window.screenshot("settings-light")
    window.click(box)
    window.click("//button[normalize-space()='Save settings']")
    window.wait_text("Saved.")
    items = list(autostart.glob("*.desktop"))
    assert items, "a login item is installed"
    assert "--hidden" in items[0].read_text(), "started at login, the app goes to the tray only"
    window.click(box)
    window.click("//button[normalize-space()='Save settings']")
    deadline = time.time() + 5
    while list(autostart.glob("*.desktop")):
        assert time.time() < deadline, "turning it off removes the login item"
        time.sleep(0.1)


def test_screenshots_in_dark_mode(home):
    start_cluster(home)
    # WebKitGTK answers prefers-color-scheme from GTK's dark-theme preference, read at start.
    gtk = Path(os.environ["XDG_CONFIG_HOME"]) / "gtk-3.0" / "settings.ini"
    gtk.parent.mkdir(parents=True, exist_ok=True)
    gtk.write_text("[Settings]\ngtk-application-prefer-dark-theme=1\n")
    window = Window()
    try:
        assert window.run("return matchMedia('(prefers-color-scheme: dark)').matches"), \
            "the window follows the system's dark preference"
        window.wait_text("deskrun")
        window.screenshot("runners-dark")
        window.go("add")
        window.find("input[id$='-name']")
        window.screenshot("add-form-dark")
        window.go("settings")
        time.sleep(0.5)
        window.screenshot("settings-dark")
        window.go("activity")
        window.wait_text("Activity")
        window.screenshot("activity-empty-dark")
        window.go("diagnostics")
        window.wait_text("OS keyring", timeout=30)
        window.screenshot("diagnostics-dark")
    finally:
        window.close()
        gtk.unlink()


def test_a_second_start_shows_the_running_app_and_exits(home, window):
    """A click on deskrun in the app menu while it sits in the tray started a second app: a
    second tray item, a second set of watchers, every notification twice."""
    window.wait_text("deskrun")
    second = subprocess.run([APP], capture_output=True, text=True, timeout=30)
    assert second.returncode == 0, second.stderr
    running = subprocess.run(["pgrep", "-f", f"^{APP}"], capture_output=True, text=True)
    assert len(running.stdout.split()) == 1, f"one app process: {running.stdout}"
    deadline = time.time() + 10
    while "started again" not in app_log():
        assert time.time() < deadline, "the running app was not told of the second start"
        time.sleep(0.2)
    assert "deskrun" in window.text(), "the running app's window still works"


# NB: last of the session: after an app quits under WebKitWebDriver, the next WebDriver
# session on this display is not reliable (seen: the driver drops the connection).
def test_tray_registers_lists_runners_and_quits_cleanly(home):
    add_runner(home)
    start_cluster(home)
    window = Window()
    try:
        item = wait_tray()
        layout = wait_menu(item, "web — idle")
        actions = ["Open deskrun", "Add runner…", "Stop cluster", "Pause all runners", "Quit deskrun"]
        for label in actions:
            assert label in layout, f"{label!r} missing from the tray menu: {layout}"
        click_menu(item, "Quit deskrun")
        deadline = time.time() + 10
        while tray_item() is not None:
            assert time.time() < deadline, "the tray item stayed after Quit"
            time.sleep(0.2)
        # The process itself ends, before the fixture would kill a leftover.
        while subprocess.run(["pgrep", "-f", f"^{APP}"], capture_output=True).returncode == 0:
            assert time.time() < deadline, "the app process did not exit after Quit"
            time.sleep(0.2)
    finally:
        window.close()


def app_log():
    """The app's log files (a daily rolling file in the platform log directory), as text."""
    logs = Path(os.environ["XDG_DATA_HOME"]) / "dev.deskrun.app" / "logs"
    return "".join(f.read_text(errors="replace") for f in sorted(logs.glob("deskrun.log*")))


@pytest.mark.no_desktop_services
def test_without_a_tray_host_or_notification_server_the_window_still_works(home):
    """Run in a session with neither (tests/app/run), where nothing can start a notification
    server on demand either: the app must start, serve the window, and take jobs, saying
    once in its log that it cannot show notifications."""
    assert tray_item() is None, "this test runs without a tray host"
    add_runner(home)
    start_cluster(home)
    window = Window()
    try:
        window.wait_text("deskrun")
        window.go("settings")
        window.find("input[type=checkbox]")
        window.screenshot("no-tray-host")
        for n, runner in enumerate(["web-nonotify-runner-1", "web-nonotify-runner-2"]):
            start_job(runner, f"lint {n}", 100 + n)
        window.go("activity")
        window.wait_text("lint 1")
        window.wait_text("lint 0")
        log = app_log()
        assert log.count("cannot show notifications") == 1, \
            f"a missing notification service is logged once, however many jobs: {log}"
        missing = [line for line in log.splitlines() if "a desktop service is missing" in line]
        # NB: the notification service is not among them: the notifier's line above says it,
        # and once is what the user needs.
        assert len(missing) == 1 and "check=\"tray\"" in missing[0], \
            f"the missing tray host is logged once: {log}"
        window.go("runners")
        window.wait_text("web")
    finally:
        window.close()
