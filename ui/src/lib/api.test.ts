// The wrapper against the real generated bindings, with Tauri's own IPC mock standing in for
// the backend: the one place that checks command names, argument names and the error shape.

import { emit } from "@tauri-apps/api/event";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { afterEach, expect, test, vi } from "vitest";
import {
  ApiError,
  appVersion,
  doctor,
  onTrayChanged,
  overview,
  removeRunner,
  saveRunner,
  validateField,
  type ProgressView,
  type RunnerForm,
} from "./api";

afterEach(() => clearMocks());

/** What `mockIPC` installs: the backend's way to call a channel's callback. */
interface TauriInternals {
  runCallback(id: number, data: unknown): void;
}

function internals(): TauriInternals {
  return (window as unknown as { __TAURI_INTERNALS__: TauriInternals }).__TAURI_INTERNALS__;
}

const form: RunnerForm = {
  name: "web",
  repository: "https://github.com/acme/web",
  mode: "kubernetes",
  min_runners: 1,
  max_runners: 5,
  instances: 1,
  mounts: [],
  auth: "pat",
  secret: "ghp_secret",
  app_id: null,
  installation_id: null,
  replace: false,
  verify: true,
};

test("a command's error result is thrown as an ApiError with its code", async () => {
  mockIPC(() => {
    throw { code: "keyring_unavailable", message: "the keyring is locked" };
  });
  const failure = await overview().catch((error: unknown) => error);
  expect(failure).toBeInstanceOf(ApiError);
  expect(failure).toMatchObject({ code: "keyring_unavailable", message: "the keyring is locked" });
});

test("a rejection that is not an IpcError becomes an internal ApiError", async () => {
  mockIPC(() => {
    throw "command overview not found";
  });
  await expect(overview()).rejects.toMatchObject({
    code: "internal",
    message: "command overview not found",
  });
});

test("validateField sends the field and the value, and returns the engine's words", async () => {
  const calls: unknown[] = [];
  mockIPC((cmd, args) => {
    calls.push([cmd, args]);
    return "it has characters other than lowercase letters, digits and '-'";
  });
  expect(await validateField("name", "Web")).toMatch(/lowercase/);
  expect(calls).toEqual([["validate_field", { field: "name", value: "Web" }]]);
});

test("saveRunner streams progress through its channel, in order", async () => {
  const seen: ProgressView[] = [];
  mockIPC((cmd, args) => {
    expect(cmd).toBe("save_runner");
    const { form: sent, onProgress } = args as {
      form: RunnerForm;
      onProgress: { id: number };
    };
    expect(sent.secret).toBe("ghp_secret");
    const send = (index: number, message: ProgressView) =>
      internals().runCallback(onProgress.id, { index, message });
    send(0, { kind: "plan", actions: ["deploy web"] });
    send(1, { kind: "applied", done: 1, total: 1, action: "deploy web" });
    return "runs-on: web";
  });
  expect(await saveRunner(form, (p) => seen.push(p))).toBe("runs-on: web");
  expect(seen.map((p) => p.kind)).toEqual(["plan", "applied"]);
});

test("removeRunner passes the name and resolves to nothing", async () => {
  mockIPC((cmd, args) => {
    expect(cmd).toBe("remove_runner");
    expect((args as { name: string }).name).toBe("web");
    return null;
  });
  await expect(removeRunner("web", () => {})).resolves.toBeUndefined();
});

test("tray events reach subscribers until they unsubscribe", async () => {
  mockIPC(() => null, { shouldMockEvents: true });
  const seen = vi.fn();
  const stop = onTrayChanged(seen);
  await vi.waitFor(async () => {
    await emit("tray-changed", { state: "busy", text: "1 job running on 2 runners" });
    expect(seen).toHaveBeenCalledWith({ state: "busy", text: "1 job running on 2 runners" });
  });
  stop();
  seen.mockClear();
  await emit("tray-changed", { state: "idle", text: "2 runners idle" });
  expect(seen).not.toHaveBeenCalled();
});

test("doctor calls the doctor command and hands back its report", async () => {
  const report = { checks: [], pass: 0, warn: 0, fail: 0 };
  mockIPC((cmd) => {
    expect(cmd).toBe("doctor");
    return report;
  });
  expect(await doctor()).toEqual(report);
});

test("appVersion is null when the window may not ask", async () => {
  mockIPC((cmd) => {
    if (cmd === "plugin:app|version") throw "app.version not allowed";
    return null;
  });
  expect(await appVersion()).toBeNull();
});
