import { expect, test } from "vitest";
import { ApiError, adviceFor } from "./errors";

test("an IpcError becomes an ApiError with its code and message", () => {
  const error = ApiError.from({ code: "keyring_unavailable", message: "no Secret Service" });
  expect(error).toBeInstanceOf(ApiError);
  expect(error.code).toBe("keyring_unavailable");
  expect(error.message).toBe("no Secret Service");
});

test("anything else becomes an internal ApiError that keeps its words", () => {
  expect(ApiError.from(new Error("IPC down")).code).toBe("internal");
  expect(ApiError.from(new Error("IPC down")).message).toBe("IPC down");
  expect(ApiError.from("command not found").message).toBe("command not found");
  expect(ApiError.from({ code: "made_up", message: "x" }).code).toBe("internal");
});

test("each code tells the user what to do", () => {
  const advice = (code: ApiError["code"]) => adviceFor(new ApiError(code, "…"));
  expect(advice("keyring_unavailable").hint).toMatch(/unlock/i);
  expect(advice("tool_missing").hint).toMatch(/kind and helm/);
  expect(advice("credentials_rejected").title).toMatch(/GitHub did not accept/);
  expect(advice("github_unreachable").title).toMatch(/could not be reached/);
  expect(advice("invalid_input").title).toMatch(/form/);
  expect(advice("internal").title).toBe("Something went wrong");
});
