import { beforeEach, expect, test, vi } from "vitest";
import { render } from "vitest-browser-svelte";
import * as api from "../lib/api";
import { ApiError } from "../lib/errors";
import { LiveOverview } from "../lib/live-overview.svelte";
import { checkOf, deferred, doctorOf, overviewOf, resetFakeApi, runnerOf } from "../test/fake-api";
import DiagnosticsView from "./DiagnosticsView.svelte";

vi.mock("../lib/api", async () => (await import("../test/fake-api")).fakeApiModule());

beforeEach(() => {
  vi.resetAllMocks();
  resetFakeApi();
});

async function renderLive() {
  const live = new LiveOverview();
  live.start();
  return render(DiagnosticsView, { live });
}

test("shows the cluster, the tray's words and each runner's trouble", async () => {
  vi.mocked(api.overview).mockResolvedValue(
    overviewOf(
      [
        runnerOf({ name: "web" }),
        runnerOf({ name: "api", state: "attention", attention: "credentials rejected by GitHub" }),
      ],
      { tray: { state: "attention", text: "api needs attention" } },
    ),
  );
  vi.mocked(api.appVersion).mockResolvedValue("0.3.0");
  const screen = await renderLive();

  const summary = screen.getByRole("region", { name: "Summary" });
  await expect.element(summary).toHaveTextContent("deskrun is running");
  await expect.element(summary).toHaveTextContent("api needs attention");
  await expect.element(summary).toHaveTextContent("2 configured, 1 needing attention");
  await expect.element(summary).toHaveTextContent("0.3.0");
  const attention = screen.getByRole("region", { name: "Needs attention" });
  await expect.element(attention).toHaveTextContent("credentials rejected by GitHub");
  await expect.element(attention).not.toHaveTextContent("web");
  await expect
    .element(screen.getByText(/runner api \(kubernetes\): attention: credentials rejected/))
    .toBeVisible();
});

test("a stopped cluster and no version are said plainly", async () => {
  vi.mocked(api.overview).mockResolvedValue(
    overviewOf([runnerOf()], {
      cluster_running: false,
      tray: { state: "stopped", text: "Runners stopped" },
    }),
  );
  const screen = await renderLive();
  const summary = screen.getByRole("region", { name: "Summary" });
  await expect.element(summary).toHaveTextContent("deskrun is not running");
  await expect.element(summary).not.toHaveTextContent("App version");
  await expect.element(screen.getByText("No runner reports a problem.")).toBeVisible();
});

const DISK_FIX = "free space there, or set DESKRUN_DATA_DIR to a larger disk";
const KIND_FIX = "install kind 0.20 or newer, or set DESKRUN_KIND to one";

/** A report with one check ending each way. */
function mixedReport(): api.DoctorView {
  return doctorOf([
    checkOf(),
    checkOf({
      id: "disk",
      title: "Free disk space",
      status: "warn",
      message: "12.0 GiB free for /home/me/.local/share/deskrun",
      fix: DISK_FIX,
    }),
    checkOf({
      id: "kind",
      title: "kind",
      status: "fail",
      message: "kind is not on PATH",
      fix: KIND_FIX,
    }),
  ]);
}

test("each environment check shows its badge, its message and its fix, with the counts", async () => {
  vi.mocked(api.doctor).mockResolvedValue(mixedReport());
  const screen = await renderLive();

  const checks = screen.getByRole("region", { name: "Environment checks" });
  await expect.element(checks).toHaveTextContent("1 passed, 1 warning, 1 failed");
  const items = checks.getByRole("listitem");
  await expect.poll(() => items.elements().length, { message: "one line per check" }).toBe(3);
  const docker = items.filter({ hasText: "Docker daemon" });
  await expect.element(docker).toHaveTextContent("Pass");
  await expect.element(docker).toHaveTextContent("answers at unix:///var/run/docker.sock");
  await expect.element(docker, { message: "a pass has no fix" }).not.toHaveTextContent("Fix:");
  const disk = items.filter({ hasText: "Free disk space" });
  await expect.element(disk).toHaveTextContent("Warning");
  await expect.element(disk).toHaveTextContent(`Fix: ${DISK_FIX}`);
  const kind = items.filter({ hasText: "kind is not on PATH" });
  await expect.element(kind).toHaveTextContent("Fail");
  await expect.element(kind).toHaveTextContent(`Fix: ${KIND_FIX}`);
  expect(api.doctor, "opening the view runs the checks once").toHaveBeenCalledTimes(1);
  await expect
    .element(screen.getByText(/in a terminal/), { message: "the checks run here now" })
    .not.toBeInTheDocument();
});

test("the copyable report carries every check and its fix", async () => {
  vi.mocked(api.doctor).mockResolvedValue(mixedReport());
  const screen = await renderLive();

  const report = screen.getByRole("region", { name: "Report" });
  await expect.element(report).toHaveTextContent("checks: 1 passed, 1 warning, 1 failed");
  await expect.element(report).toHaveTextContent("check docker: pass: answers at unix://");
  await expect.element(report).toHaveTextContent(`check kind: fail: kind is not on PATH`);
  await expect.element(report).toHaveTextContent(`fix: ${KIND_FIX}`);
});

test("the counts say warnings in the plural, and nothing failed", async () => {
  vi.mocked(api.doctor).mockResolvedValue(
    doctorOf([
      checkOf(),
      checkOf({ id: "tray", status: "warn", fix: "a tray host" }),
      checkOf({ id: "notifications", status: "warn", fix: "a notification daemon" }),
    ]),
  );
  const screen = await renderLive();
  await expect
    .element(screen.getByRole("region", { name: "Environment checks" }))
    .toHaveTextContent("1 passed, 2 warnings, 0 failed");
});

test("says Checking… until the checks are done", async () => {
  const pending = deferred<api.DoctorView>();
  vi.mocked(api.doctor).mockReturnValue(pending.promise);
  const screen = await renderLive();

  const checks = screen.getByRole("region", { name: "Environment checks" });
  await expect.element(checks.getByText("Checking…")).toBeVisible();
  await expect
    .element(checks.getByRole("button", { name: "Check again" }), {
      message: "one run at a time",
    })
    .toBeDisabled();
  pending.resolve(mixedReport());
  await expect.element(checks).toHaveTextContent("1 passed, 1 warning, 1 failed");
  await expect.element(checks.getByText("Checking…")).not.toBeInTheDocument();
});

test("a failing doctor call shows the error, and checking again recovers", async () => {
  vi.mocked(api.doctor)
    .mockRejectedValueOnce(new ApiError("internal", "command doctor not allowed"))
    .mockResolvedValueOnce(mixedReport());
  const screen = await renderLive();

  const checks = screen.getByRole("region", { name: "Environment checks" });
  await expect.element(checks.getByRole("alert")).toHaveTextContent("command doctor not allowed");
  await checks.getByRole("button", { name: "Check again" }).click();
  await expect.element(checks).toHaveTextContent("1 passed, 1 warning, 1 failed");
  await expect.element(checks.getByRole("alert")).not.toBeInTheDocument();
});

test("Check again runs the checks again and shows only the new result", async () => {
  const again = deferred<api.DoctorView>();
  vi.mocked(api.doctor).mockResolvedValueOnce(mixedReport()).mockReturnValueOnce(again.promise);
  const screen = await renderLive();

  const checks = screen.getByRole("region", { name: "Environment checks" });
  await expect.element(checks).toHaveTextContent("1 passed, 1 warning, 1 failed");
  await checks.getByRole("button", { name: "Check again" }).click();
  await expect.element(checks.getByText("Checking…")).toBeVisible();
  await expect
    .element(checks, { message: "the old counts are not the current state" })
    .not.toHaveTextContent("1 failed");
  again.resolve(doctorOf([checkOf(), checkOf({ id: "kind", title: "kind" })]));
  await expect.element(checks).toHaveTextContent("2 passed, 0 warnings, 0 failed");
  await expect
    .element(checks, { message: "the old failure is gone" })
    .not.toHaveTextContent("Fix:");
  expect(api.doctor).toHaveBeenCalledTimes(2);
});
