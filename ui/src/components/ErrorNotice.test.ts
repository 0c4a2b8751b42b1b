import { expect, test } from "vitest";
import { render } from "vitest-browser-svelte";
import { ApiError } from "../lib/errors";
import ErrorNotice from "./ErrorNotice.svelte";

test("a locked keyring says to start or unlock it", async () => {
  const error = new ApiError("keyring_unavailable", "org.freedesktop.secrets: not provided");
  const screen = await render(ErrorNotice, { error });
  const alert = screen.getByRole("alert");
  await expect.element(alert).toHaveTextContent("The system keyring is locked or not running");
  await expect.element(alert).toHaveTextContent(/Start or unlock it/);
  await expect.element(alert).toHaveTextContent("org.freedesktop.secrets: not provided");
});

test("a missing tool says what to install", async () => {
  const error = new ApiError("tool_missing", "helm: not found");
  const screen = await render(ErrorNotice, { error });
  await expect.element(screen.getByRole("alert")).toHaveTextContent(/kind and helm installed/);
});

test("the retry button calls back", async () => {
  let retried = 0;
  const error = new ApiError("internal", "boom");
  const screen = await render(ErrorNotice, { error, onRetry: () => retried++ });
  await screen.getByRole("button", { name: "Try again" }).click();
  expect(retried).toBe(1);
});
