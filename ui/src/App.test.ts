import { afterEach, beforeEach, expect, test, vi } from "vitest";
import { render } from "vitest-browser-svelte";
import * as api from "./lib/api";
import { operations } from "./lib/operation.svelte";
import { emit, overviewOf, resetFakeApi, runnerOf } from "./test/fake-api";
import App from "./App.svelte";
import "./app.css";

vi.mock("./lib/api", async () => (await import("./test/fake-api")).fakeApiModule());

beforeEach(() => {
  vi.resetAllMocks();
  resetFakeApi();
  operations.current = null;
  vi.mocked(api.overview).mockResolvedValue(overviewOf([runnerOf()]));
});

afterEach(() => {
  window.location.hash = "";
});

async function renderAt(hash: string) {
  window.location.hash = hash;
  return render(App);
}

test("the tray's #/add lands on the form", async () => {
  const screen = await renderAt("#/add");
  await expect
    .element(screen.getByRole("heading", { level: 1, name: "Add a runner" }))
    .toBeVisible();
});

test("the sidebar moves between views and marks the current one", async () => {
  const screen = await renderAt("#/");
  const nav = screen.getByRole("navigation", { name: "Main" });
  await expect.element(screen.getByRole("heading", { level: 1, name: "Runners" })).toBeVisible();
  await expect
    .element(nav.getByRole("link", { name: "Runners" }))
    .toHaveAttribute("aria-current", "page");

  await nav.getByRole("link", { name: "Activity" }).click();
  const activity = screen.getByRole("heading", { level: 1, name: "Activity" });
  await expect.element(activity).toBeVisible();
  await expect.element(activity, { message: "focus follows the view" }).toHaveFocus();
  await expect
    .element(nav.getByRole("link", { name: "Activity" }))
    .toHaveAttribute("aria-current", "page");

  await nav.getByRole("link", { name: "Settings" }).click();
  await expect.element(screen.getByRole("heading", { level: 1, name: "Settings" })).toBeVisible();
  await nav.getByRole("link", { name: "Diagnostics" }).click();
  await expect
    .element(screen.getByRole("heading", { level: 1, name: "Diagnostics" }))
    .toBeVisible();
});

test("#/edit/<name> opens that runner in the form", async () => {
  const screen = await renderAt("#/edit/web");
  await expect.element(screen.getByRole("heading", { level: 1, name: "Edit web" })).toBeVisible();
});

test("an unknown address is a designed dead end, not a blank window", async () => {
  const screen = await renderAt("#/nowhere");
  await expect
    .element(screen.getByRole("heading", { name: "Nothing at “#/nowhere”" }))
    .toBeVisible();
  await expect.element(screen.getByRole("link", { name: "Go to runners" })).toBeVisible();
});

test("the sidebar shows the tray's state and follows its events", async () => {
  const screen = await renderAt("#/activity");
  const nav = screen.getByRole("navigation", { name: "Main" });
  await expect.element(nav).toHaveTextContent("1 runners idle");

  const busy = { state: "busy", text: "1 job running on 1 runner" };
  vi.mocked(api.overview).mockResolvedValue(overviewOf([runnerOf()], { tray: busy }));
  emit.tray(busy);
  await expect.element(nav).toHaveTextContent("1 job running on 1 runner");
  await expect.element(nav).toHaveTextContent("Busy");
});

test("a link to GitHub opens in the user's browser, not in the app's webview", async () => {
  vi.mocked(api.openLink).mockResolvedValue(undefined);
  const screen = await renderAt("#/");
  await expect
    .element(screen.getByRole("link", { name: "https://github.com/acme/web" }))
    .toBeVisible();
  await screen.getByRole("link", { name: "https://github.com/acme/web" }).click();
  expect(api.openLink).toHaveBeenCalledWith("https://github.com/acme/web");
});

test("hidden labels are placed inside the main pane, so the window itself never scrolls", async () => {
  // What a user saw: with a few runners the whole window scrolled and the sidebar slid away,
  // because the visually hidden labels were positioned against the body, not the pane.
  vi.mocked(api.overview).mockResolvedValue(
    overviewOf(Array.from({ length: 4 }, (_, i) => runnerOf({ name: `runner-${i}` }))),
  );
  const screen = await renderAt("#/");
  await expect.element(screen.getByRole("heading", { name: "runner-3" })).toBeInTheDocument();
  const main = document.getElementById("main")!;
  const hidden = [...main.querySelectorAll<HTMLElement>(".visually-hidden")];
  expect(hidden.length, "the cards have hidden labels").toBeGreaterThan(0);
  for (const element of hidden) {
    const parent = element.offsetParent;
    expect(parent === main || main.contains(parent), "placed within the pane").toBe(true);
  }
});
