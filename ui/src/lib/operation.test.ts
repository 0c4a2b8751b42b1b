import { beforeEach, expect, test } from "vitest";
import { deferred } from "../test/fake-api";
import { ApiError } from "./errors";
import {
  Operation,
  dismissOperation,
  operations,
  runOperation,
  startOperation,
} from "./operation.svelte";

beforeEach(() => {
  operations.current = null;
});

test("an operation follows the plan, the steps done and the notes", () => {
  const operation = new Operation("Starting runners");
  operation.receive({ kind: "note", message: "Creating cluster deskrun" });
  operation.receive({ kind: "plan", actions: ["install ARC", "deploy web", "deploy api"] });
  operation.receive({ kind: "applied", done: 1, total: 3, action: "install ARC" });
  operation.receive({ kind: "warning", message: "inotify limit is low" });

  expect(operation.plan).toEqual(["install ARC", "deploy web", "deploy api"]);
  expect(operation.lastStep).toBe("[1/3] done: install ARC");
  expect(operation.notes).toEqual([
    { kind: "note", message: "Creating cluster deskrun" },
    { kind: "warning", message: "inotify limit is low" },
  ]);
});

test("runOperation streams progress and ends succeeded with the value", async () => {
  const outcome = await runOperation("Saving web", async (onProgress) => {
    onProgress({ kind: "applied", done: 1, total: 1, action: "deploy web" });
    return "runs-on: web";
  });
  expect(outcome).toEqual({ ok: true, value: "runs-on: web" });
  expect(operations.current?.status).toBe("succeeded");
  expect(operations.current?.lastStep).toBe("[1/1] done: deploy web");
});

test("a failure stays on the operation as an ApiError", async () => {
  const outcome = await runOperation("Saving web", async () => {
    throw new ApiError("credentials_rejected", "bad token");
  });
  expect(outcome.ok).toBe(false);
  expect(operations.current?.status).toBe("failed");
  expect(operations.current?.error?.code).toBe("credentials_rejected");
});

test("one operation at a time: a second one fails without replacing the first", async () => {
  const held = deferred<void>();
  const first = startOperation("Starting runners", () => held.promise);
  const second = await runOperation("Pausing all runners", async () => undefined);

  expect(second.ok).toBe(false);
  expect(operations.current).toBe(first.operation);
  dismissOperation();
  expect(operations.current, "a running operation cannot be dismissed").toBe(first.operation);

  held.resolve();
  await first.outcome;
  dismissOperation();
  expect(operations.current).toBeNull();
});
