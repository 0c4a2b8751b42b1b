import { beforeEach, expect, test, vi } from "vitest";
import * as api from "./api";
import { deferred } from "../test/fake-api";
import { CHECK_DELAY_MS, FieldCheck } from "./field-check.svelte";

vi.mock("./api", async () => (await import("../test/fake-api")).fakeApiModule());

beforeEach(() => {
  vi.resetAllMocks();
  vi.useRealTimers();
});

test("a burst of typing makes one call, with the last value", async () => {
  vi.useFakeTimers();
  vi.mocked(api.validateField).mockResolvedValue("it is empty");
  const check = new FieldCheck("name");

  check.check("w");
  check.check("we");
  check.check("web");
  expect(check.pending).toBe(true);
  await vi.advanceTimersByTimeAsync(CHECK_DELAY_MS);

  expect(api.validateField).toHaveBeenCalledTimes(1);
  expect(api.validateField).toHaveBeenCalledWith("name", "web");
  expect(check.message).toBe("it is empty");
  expect(check.pending).toBe(false);
});

test("a late answer for an older value never wins", async () => {
  vi.useFakeTimers();
  const slow = deferred<string | null>();
  vi.mocked(api.validateField).mockReturnValueOnce(slow.promise).mockResolvedValueOnce(null);
  const check = new FieldCheck("repository");

  check.check("https://github.com/ac");
  await vi.advanceTimersByTimeAsync(CHECK_DELAY_MS);
  check.check("https://github.com/acme/web");
  await vi.advanceTimersByTimeAsync(CHECK_DELAY_MS);
  slow.resolve("not a repository URL");
  await Promise.resolve();

  expect(check.message).toBeNull();
  expect(check.ok).toBe(true);
});

test("a failing check says so instead of passing silently", async () => {
  vi.useFakeTimers();
  vi.mocked(api.validateField).mockRejectedValue(new api.ApiError("internal", "IPC down"));
  const check = new FieldCheck("mount");

  check.check("/cache");
  await vi.advanceTimersByTimeAsync(CHECK_DELAY_MS);

  expect(check.message).toBe("Could not check this value: IPC down");
});
