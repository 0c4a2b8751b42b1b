import { beforeEach, expect, test, vi } from "vitest";
import { render } from "vitest-browser-svelte";
import * as api from "../lib/api";
import { LiveOverview } from "../lib/live-overview.svelte";
import { overviewOf, resetFakeApi, runnerOf } from "../test/fake-api";
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
