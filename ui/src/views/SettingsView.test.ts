import { beforeEach, expect, test, vi } from "vitest";
import { render } from "vitest-browser-svelte";
import * as api from "../lib/api";
import { ApiError } from "../lib/errors";
import { resetFakeApi, settingsOf } from "../test/fake-api";
import SettingsView from "./SettingsView.svelte";

vi.mock("../lib/api", async () => (await import("../test/fake-api")).fakeApiModule());

beforeEach(() => {
  vi.resetAllMocks();
  resetFakeApi();
});

test("settings round-trip: loaded, changed, saved as shown", async () => {
  vi.mocked(api.getSettings).mockResolvedValue(
    settingsOf({ notify_job_started: false, cluster: "deskrun" }),
  );
  const screen = await render(SettingsView);

  const started = screen.getByLabelText("A job started on one of my runners");
  const finished = screen.getByLabelText(/A job finished/);
  await expect.element(started).not.toBeChecked();
  await expect.element(finished).toBeChecked();
  const save = screen.getByRole("button", { name: "Save settings" });
  await expect.element(save, { message: "nothing changed yet" }).toBeDisabled();

  const login = screen.getByLabelText("Start deskrun in the tray when I log in");
  await expect.element(login, { message: "start at login is off by default" }).not.toBeChecked();

  await started.click();
  await finished.click();
  await login.click();
  await screen.getByLabelText("kind cluster name").fill("ci-box");
  await expect.element(screen.getByText("kind-ci-box")).toBeVisible();
  await save.click();

  expect(api.setSettings).toHaveBeenCalledWith({
    notify_job_started: true,
    notify_job_finished: false,
    notify_attention: true,
    cluster: "ci-box",
    start_at_login: true,
  });
  await expect.element(screen.getByText("Saved.")).toBeVisible();
  await expect.element(save).toBeDisabled();
});

test("a bad cluster name shows the engine's words and blocks saving", async () => {
  vi.mocked(api.validateField).mockImplementation(async (field, value) =>
    field === "cluster" && value.includes("_") ? `invalid name "${value}"` : null,
  );
  const screen = await render(SettingsView);
  await screen.getByLabelText("kind cluster name").fill("my_cluster");

  await expect.element(screen.getByText('invalid name "my_cluster"')).toBeVisible();
  await expect.element(screen.getByRole("button", { name: "Save settings" })).toBeDisabled();
  expect(api.validateField).toHaveBeenCalledWith("cluster", "my_cluster");
  await expect
    .element(screen.getByText(/is not stopped by this/), {
      message: "a rename says the old cluster keeps running",
    })
    .toBeVisible();
});

test("Revert puts back what is stored", async () => {
  const screen = await render(SettingsView);
  const attention = screen.getByLabelText(/needs attention/);
  await attention.click();
  await expect.element(attention).not.toBeChecked();
  await screen.getByRole("button", { name: "Revert" }).click();
  await expect.element(attention).toBeChecked();
});

test("a failed save is explained", async () => {
  vi.mocked(api.setSettings).mockRejectedValue(
    new ApiError("invalid_input", "cluster name: it is empty"),
  );
  const screen = await render(SettingsView);
  await screen.getByLabelText(/needs attention/).click();
  await screen.getByRole("button", { name: "Save settings" }).click();
  await expect.element(screen.getByRole("alert")).toHaveTextContent("cluster name: it is empty");
});

test("a failed load offers to try again", async () => {
  vi.mocked(api.getSettings).mockRejectedValueOnce(
    new ApiError("internal", "config.json line 3: expected value"),
  );
  const screen = await render(SettingsView);
  await expect.element(screen.getByRole("alert")).toHaveTextContent("config.json line 3");
  await screen.getByRole("button", { name: "Try again" }).click();
  await expect.element(screen.getByLabelText("kind cluster name")).toHaveValue("deskrun");
});
