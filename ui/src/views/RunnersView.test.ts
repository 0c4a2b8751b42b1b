import { beforeEach, expect, test, vi } from "vitest";
import { render } from "vitest-browser-svelte";
import * as api from "../lib/api";
import { ApiError } from "../lib/errors";
import { LiveOverview } from "../lib/live-overview.svelte";
import { operations } from "../lib/operation.svelte";
import {
  deferred,
  emit,
  jobOf,
  overviewOf,
  resetFakeApi,
  runnerOf,
  subscriberCounts,
} from "../test/fake-api";
import RunnersView from "./RunnersView.svelte";

vi.mock("../lib/api", async () => (await import("../test/fake-api")).fakeApiModule());

beforeEach(() => {
  vi.resetAllMocks();
  resetFakeApi();
  operations.current = null;
});

async function renderLive() {
  const live = new LiveOverview();
  const stop = live.start();
  const screen = await render(RunnersView, { live });
  return { screen, live, stop };
}

test("one card per runner, each with its state, job, numbers and runs-on line", async () => {
  vi.mocked(api.overview).mockResolvedValue(
    overviewOf([
      runnerOf({ name: "web", state: "idle", runners_online: 2, cache_bytes: 1_500_000_000 }),
      runnerOf({
        name: "api",
        state: "busy",
        jobs: [jobOf({ name: "test (ubuntu)", runner: "api-runner-1" })],
      }),
      runnerOf({ name: "docs", state: "attention", attention: "listener crash-looping" }),
      runnerOf({ name: "new", state: "not-deployed", runners_online: 0 }),
    ]),
  );
  const { screen } = await renderLive();

  const web = screen.getByRole("article", { name: "web" });
  await expect.element(web).toHaveTextContent("Idle");
  await expect.element(web).toHaveTextContent("2 runners");
  await expect.element(web).toHaveTextContent("1.5 GB");
  await expect.element(web.getByText("runs-on: web")).toBeVisible();
  await expect.element(web.getByRole("button", { name: "Copy: runs-on: web" })).toBeVisible();
  await expect
    .element(web.getByRole("link", { name: "Edit web" }))
    .toHaveAttribute("href", "#/edit/web");

  const busy = screen.getByRole("article", { name: "api" });
  await expect.element(busy).toHaveTextContent("Busy");
  await expect.element(busy.getByText("test (ubuntu)")).toBeVisible();
  await expect
    .element(busy.getByRole("link", { name: "Open run of test (ubuntu)" }))
    .toHaveAttribute("href", "https://github.com/acme/web/actions/runs/42");

  const docs = screen.getByRole("article", { name: "docs" });
  await expect.element(docs).toHaveTextContent("Needs attention");
  await expect.element(docs).toHaveTextContent("listener crash-looping");

  await expect
    .element(screen.getByRole("article", { name: "new" }))
    .toHaveTextContent("Not deployed");
});

test("no runners: an empty state that leads to the form", async () => {
  vi.mocked(api.overview).mockResolvedValue(overviewOf([]));
  const { screen } = await renderLive();

  await expect.element(screen.getByRole("heading", { name: "No runners yet" })).toBeVisible();
  await expect
    .element(screen.getByRole("link", { name: "Add your first runner" }))
    .toHaveAttribute("href", "#/add");
});

test("a stopped cluster offers to start, and shows the start's steps", async () => {
  vi.mocked(api.overview).mockResolvedValue(
    overviewOf([runnerOf({ state: "not-deployed" })], {
      cluster_running: false,
      tray: { state: "stopped", text: "Runners stopped" },
    }),
  );
  const held = deferred<void>();
  vi.mocked(api.startRunners).mockImplementation((_recreate, onProgress) => {
    onProgress({ kind: "plan", actions: ["create cluster deskrun", "deploy web"] });
    onProgress({ kind: "applied", done: 1, total: 2, action: "create cluster deskrun" });
    return held.promise;
  });
  const { screen } = await renderLive();

  await expect.element(screen.getByRole("heading", { name: "Runners are stopped" })).toBeVisible();
  await screen.getByRole("button", { name: "Start runners" }).click();

  expect(api.startRunners).toHaveBeenCalledWith(false, expect.any(Function));
  await expect.element(screen.getByText("[1/2] done: create cluster deskrun")).toBeVisible();
  await expect
    .element(screen.getByRole("button", { name: "Start runners" }), {
      message: "the progress panel replaces the banner while it starts",
    })
    .not.toBeInTheDocument();

  vi.mocked(api.overview).mockResolvedValue(overviewOf([runnerOf()]));
  held.resolve();
  await expect.element(screen.getByText("Done", { exact: true })).toBeVisible();
  await expect
    .element(screen.getByRole("button", { name: "Start runners" }))
    .not.toBeInTheDocument();
});

test("after Pause, the window offers Resume, which deploys the runners again", async () => {
  vi.mocked(api.overview).mockResolvedValue(
    overviewOf([
      runnerOf({ state: "not-deployed" }),
      runnerOf({ name: "api", state: "not-deployed" }),
    ]),
  );
  vi.mocked(api.startRunners).mockResolvedValue(undefined);
  const { screen } = await renderLive();

  await expect
    .element(screen.getByRole("button", { name: "Pause all runners" }))
    .not.toBeInTheDocument();
  // What the overview says once the runners are deployed again.
  vi.mocked(api.overview).mockResolvedValue(overviewOf([runnerOf()]));
  await screen.getByRole("button", { name: "Resume all runners" }).click();
  expect(api.startRunners).toHaveBeenCalledWith(false, expect.any(Function));
  await expect.element(screen.getByRole("button", { name: "Pause all runners" })).toBeVisible();
});

test("while the tray runs an operation, the window's actions wait for it", async () => {
  vi.mocked(api.overview).mockResolvedValue(
    overviewOf([runnerOf()], { operation: "Stopping the cluster…" }),
  );
  const { screen } = await renderLive();

  await expect.element(screen.getByText("Stopping the cluster…")).toBeVisible();
  await expect.element(screen.getByRole("button", { name: "Pause all runners" })).toBeDisabled();
});

test("a runner that needs attention is listed first", async () => {
  vi.mocked(api.overview).mockResolvedValue(
    overviewOf([
      runnerOf({ name: "alpha" }),
      runnerOf({ name: "beta" }),
      runnerOf({ name: "zeta", state: "attention" }),
    ]),
  );
  const { screen } = await renderLive();
  await expect.element(screen.getByRole("heading", { name: "zeta" })).toBeVisible();
  const names = [...document.querySelectorAll("h2, h3")].map((h) => h.textContent?.trim());
  expect(names.filter((n) => ["alpha", "beta", "zeta"].includes(n ?? ""))).toEqual([
    "zeta",
    "alpha",
    "beta",
  ]);
});

test("remove asks first, then removes with progress", async () => {
  vi.mocked(api.overview).mockResolvedValue(overviewOf([runnerOf({ name: "web" })]));
  const { screen } = await renderLive();

  await screen.getByRole("button", { name: "Remove web" }).click();
  const dialog = screen.getByRole("dialog", { name: "Remove web?" });
  await expect.element(dialog).toBeVisible();
  expect(api.removeRunner).not.toHaveBeenCalled();

  await dialog.getByRole("button", { name: "Remove runner" }).click();

  expect(api.removeRunner).toHaveBeenCalledWith("web", expect.any(Function));
  await expect.element(screen.getByRole("region", { name: "Removing web" })).toBeVisible();
});

test("a tray event reloads the list, without any timer", async () => {
  vi.mocked(api.overview).mockResolvedValue(overviewOf([runnerOf({ state: "idle" })]));
  const { screen } = await renderLive();
  const card = screen.getByRole("article", { name: "web" });
  await expect.element(card).toHaveTextContent("Idle");

  vi.mocked(api.overview).mockResolvedValue(
    overviewOf([runnerOf({ state: "busy", jobs: [jobOf({ name: "lint" })] })], {
      tray: { state: "busy", text: "1 job running on 1 runner" },
    }),
  );
  emit.tray({ state: "busy", text: "1 job running on 1 runner" });

  await expect.element(card).toHaveTextContent("Busy");
  await expect.element(card.getByText("lint", { exact: true })).toBeVisible();
  await expect.element(screen.getByText("1 job running on 1 runner")).toBeVisible();
});

test("a failed load says what happened and can be retried", async () => {
  vi.mocked(api.overview).mockRejectedValueOnce(
    new ApiError("keyring_unavailable", "Secret Service: locked"),
  );
  const { screen } = await renderLive();

  const alert = screen.getByRole("alert");
  await expect.element(alert).toHaveTextContent("The system keyring is locked or not running");
  vi.mocked(api.overview).mockResolvedValue(overviewOf([runnerOf()]));
  await screen.getByRole("button", { name: "Try again" }).click();
  await expect.element(screen.getByRole("article", { name: "web" })).toBeVisible();
});

test("stopping the live overview lets go of the events", async () => {
  const { stop } = await renderLive();
  expect(subscriberCounts()).toEqual({ tray: 1, activity: 1 });
  stop();
  expect(subscriberCounts()).toEqual({ tray: 0, activity: 0 });
});
