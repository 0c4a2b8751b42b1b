import { beforeEach, expect, test, vi } from "vitest";
import { render } from "vitest-browser-svelte";
import * as api from "../lib/api";
import { ApiError } from "../lib/errors";
import { activityOf, emit, jobOf, resetFakeApi, subscriberCounts } from "../test/fake-api";
import ActivityView from "./ActivityView.svelte";

vi.mock("../lib/api", async () => (await import("../test/fake-api")).fakeApiModule());

beforeEach(() => {
  vi.resetAllMocks();
  resetFakeApi();
});

test("lists recent jobs with repository, runner, duration, result and run link", async () => {
  vi.mocked(api.recentActivity).mockResolvedValue([
    activityOf({
      key: "r1/1",
      job: jobOf({ name: "build", scale_set: "web-2", runner: "web-runner-a" }),
      result: "succeeded",
      duration_secs: 75,
    }),
    activityOf({
      key: "r2/2",
      job: jobOf({ name: "lint", run_url: null }),
      result: "failed",
      duration_secs: 12,
    }),
  ]);
  const screen = await render(ActivityView);

  const build = screen.getByRole("row").filter({ hasText: "build" });
  await expect.element(build).toHaveTextContent("acme/web");
  await expect.element(build.getByTitle("web-runner-a")).toHaveTextContent("web-2");
  await expect.element(build).toHaveTextContent("ci.yml@refs/heads/main");
  await expect.element(build).toHaveTextContent("1 min 15 s");
  await expect.element(build).toHaveTextContent("Succeeded");
  await expect
    .element(build.getByRole("link", { name: "Open run of build" }))
    .toHaveAttribute("href", "https://github.com/acme/web/actions/runs/42");

  const lint = screen.getByRole("row").filter({ hasText: "lint" });
  await expect.element(lint).toHaveTextContent("Failed");
  await expect.element(lint.getByRole("link")).not.toBeInTheDocument();
});

test("a job that starts shows on top, and its finish updates the same line", async () => {
  vi.mocked(api.recentActivity).mockResolvedValue([
    activityOf({ key: "old/1", job: jobOf({ name: "older job" }), result: "succeeded" }),
  ]);
  const screen = await render(ActivityView);
  await expect.element(screen.getByText("older job")).toBeVisible();

  emit.activity(activityOf({ key: "new/2", job: jobOf({ name: "deploy" }), result: "running" }));
  const rows = screen.getByRole("row");
  await expect.element(rows.nth(1)).toHaveTextContent("deploy");
  await expect.element(rows.nth(1)).toHaveTextContent("Running");

  emit.activity(
    activityOf({
      key: "new/2",
      job: jobOf({ name: "deploy" }),
      result: "finished",
      duration_secs: 3900,
    }),
  );
  await expect.element(rows.nth(1)).toHaveTextContent("Finished");
  await expect.element(rows.nth(1)).toHaveTextContent("1 h 5 min");
  expect(rows.all(), "header plus one line per job, never a duplicate").toHaveLength(3);
});

test("no jobs yet: an empty state that says what will appear", async () => {
  const screen = await render(ActivityView);
  await expect.element(screen.getByRole("heading", { name: "No jobs yet" })).toBeVisible();
});

test("an event on an empty feed replaces the empty state", async () => {
  const screen = await render(ActivityView);
  await expect.element(screen.getByRole("heading", { name: "No jobs yet" })).toBeVisible();
  emit.activity(activityOf({ job: jobOf({ name: "first job" }) }));
  await expect.element(screen.getByText("first job")).toBeVisible();
  await expect
    .element(screen.getByRole("heading", { name: "No jobs yet" }))
    .not.toBeInTheDocument();
});

test("a failed load is explained, and live events still arrive", async () => {
  vi.mocked(api.recentActivity).mockRejectedValue(new ApiError("internal", "state poisoned"));
  const screen = await render(ActivityView);
  await expect.element(screen.getByRole("alert")).toHaveTextContent("state poisoned");
  expect(subscriberCounts().activity).toBe(1);
});

test("leaving the view unsubscribes", async () => {
  const screen = await render(ActivityView);
  expect(subscriberCounts().activity).toBe(1);
  await screen.unmount();
  expect(subscriberCounts().activity).toBe(0);
});
