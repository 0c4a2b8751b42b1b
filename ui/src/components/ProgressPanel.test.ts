import { expect, test } from "vitest";
import { render } from "vitest-browser-svelte";
import { ApiError } from "../lib/errors";
import { Operation } from "../lib/operation.svelte";
import ProgressPanel from "./ProgressPanel.svelte";

test("shows the plan, the bar and the last step as progress arrives", async () => {
  const operation = new Operation("Starting runners");
  const screen = await render(ProgressPanel, { operation });
  await expect.element(screen.getByText("Working…")).toBeVisible();

  operation.receive({ kind: "plan", actions: ["install ARC", "deploy web", "deploy api"] });
  operation.receive({ kind: "applied", done: 2, total: 3, action: "deploy web" });
  operation.receive({ kind: "applied", done: 1, total: 3, action: "install ARC" });

  await expect.element(screen.getByText("[1/3] done: install ARC")).toBeVisible();
  const bar = screen.getByRole("progressbar", { name: "Steps done" });
  await expect.element(bar).toHaveAttribute("max", "3");
  await expect.element(bar).toHaveAttribute("value", "1");
  const plan = screen.getByRole("list", { name: "Plan" });
  await expect.element(plan.getByText("install ARC (done)")).toBeInTheDocument();
  await expect.element(plan.getByText("deploy web (done)")).toBeInTheDocument();
  await expect.element(plan.getByRole("listitem").nth(2)).not.toHaveTextContent("(done)");
});

test("notes and warnings are listed, warnings marked", async () => {
  const operation = new Operation("Saving web");
  operation.receive({ kind: "note", message: "Checked the token with GitHub" });
  operation.receive({ kind: "warning", message: "the cluster lacks /cache; recreate it" });
  const screen = await render(ProgressPanel, { operation });

  await expect.element(screen.getByText("Checked the token with GitHub")).toBeVisible();
  await expect.element(screen.getByText(/Warning:\s*the cluster lacks \/cache/)).toBeVisible();
});

test("a failure shows the error's advice and can be dismissed", async () => {
  const operation = new Operation("Starting runners");
  let dismissed = false;
  const screen = await render(ProgressPanel, { operation, onDismiss: () => (dismissed = true) });
  await expect.element(screen.getByRole("button", { name: "Dismiss" })).not.toBeInTheDocument();

  operation.error = new ApiError("tool_missing", "kind: not found on PATH");
  operation.status = "failed";

  await expect.element(screen.getByText("Failed")).toBeVisible();
  await expect.element(screen.getByRole("alert")).toHaveTextContent("kind: not found on PATH");
  await screen.getByRole("button", { name: "Dismiss" }).click();
  expect(dismissed).toBe(true);
});
