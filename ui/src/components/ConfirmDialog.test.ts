import { expect, test } from "vitest";
import { userEvent } from "vitest/browser";
import { render } from "vitest-browser-svelte";
import ConfirmDialog from "./ConfirmDialog.svelte";

test("Enter confirms: the confirm button has the focus", async () => {
  let confirmed = 0;
  const screen = await render(ConfirmDialog, {
    open: true,
    title: "Stop the cluster?",
    confirmLabel: "Stop",
    onConfirm: () => confirmed++,
  });
  const dialog = screen.getByRole("dialog", { name: "Stop the cluster?" });
  await expect.element(dialog).toBeVisible();
  await expect.element(screen.getByRole("button", { name: "Stop" })).toHaveFocus();

  await userEvent.keyboard("{Enter}");

  expect(confirmed).toBe(1);
  await expect.element(dialog).not.toBeInTheDocument();
});

test("a dangerous action starts on Cancel: a double Enter removes nothing", async () => {
  let confirmed = 0;
  const screen = await render(ConfirmDialog, {
    open: true,
    title: "Remove web?",
    confirmLabel: "Remove runner",
    danger: true,
    onConfirm: () => confirmed++,
  });
  const dialog = screen.getByRole("dialog", { name: "Remove web?" });
  await expect.element(screen.getByRole("button", { name: "Cancel" })).toHaveFocus();

  await userEvent.keyboard("{Enter}");

  expect(confirmed).toBe(0);
  await expect.element(dialog).not.toBeInTheDocument();
});

test("Escape cancels without confirming", async () => {
  let confirmed = 0;
  const screen = await render(ConfirmDialog, {
    open: true,
    title: "Remove web?",
    confirmLabel: "Remove runner",
    onConfirm: () => confirmed++,
  });
  await expect.element(screen.getByRole("dialog")).toBeVisible();

  await userEvent.keyboard("{Escape}");

  await expect.element(screen.getByRole("dialog")).not.toBeInTheDocument();
  expect(confirmed).toBe(0);
});

test("Cancel closes it", async () => {
  const screen = await render(ConfirmDialog, {
    open: true,
    title: "Remove web?",
    confirmLabel: "Remove runner",
    onConfirm: () => {},
  });
  await screen.getByRole("button", { name: "Cancel" }).click();
  await expect.element(screen.getByRole("dialog")).not.toBeInTheDocument();
});
