// The typed error every command failure becomes, and what each code means for the person
// looking at it. Only types come from the generated bindings; `api.ts` does the wrapping.

import type { ErrorCode, IpcError } from "./bindings";

export type { ErrorCode };

/** A failed command: the backend's stable `code` and its human message. */
export class ApiError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = "ApiError";
    this.code = code;
  }

  /** The `ApiError` for anything a command rejected with, or threw. */
  static from(error: unknown): ApiError {
    if (error instanceof ApiError) return error;
    if (isIpcError(error)) return new ApiError(error.code, error.message);
    const message = error instanceof Error ? error.message : String(error);
    return new ApiError("internal", message);
  }
}

const CODES: readonly ErrorCode[] = [
  "invalid_input",
  "keyring_unavailable",
  "credentials_rejected",
  "github_unreachable",
  "tool_missing",
  "recreate_needed",
  "internal",
];

function isIpcError(value: unknown): value is IpcError {
  if (typeof value !== "object" || value === null) return false;
  const { code, message } = value as Record<string, unknown>;
  return typeof message === "string" && CODES.includes(code as ErrorCode);
}

/** A headline and what to do next, per error code. */
export interface ErrorAdvice {
  title: string;
  hint: string;
}

const ADVICE: Record<ErrorCode, ErrorAdvice> = {
  invalid_input: {
    title: "Something in the form needs fixing",
    hint: "Correct the value named below and try again.",
  },
  keyring_unavailable: {
    title: "The system keyring is locked or not running",
    hint:
      "deskrun keeps tokens and keys in your keyring, never in files. Start or unlock it " +
      "(GNOME Keyring, KWallet, macOS Keychain), then try again.",
  },
  credentials_rejected: {
    title: "GitHub did not accept these credentials",
    hint:
      "Check that the token or GitHub App can register runners for this repository or " +
      "organization. Offline? Untick “Check credentials with GitHub” to save anyway.",
  },
  github_unreachable: {
    title: "GitHub could not be reached to check the credentials",
    hint:
      "This says nothing about the token itself. Check the network (or proxy) and try " +
      "again, or untick “Check credentials with GitHub” to save without the check.",
  },
  tool_missing: {
    title: "Docker, kind or helm is missing",
    hint:
      "deskrun needs Docker running and kind and helm installed. Install or start them, " +
      "then try again; Diagnostics checks each one and says how to fix it.",
  },
  recreate_needed: {
    title: "The cluster must be recreated",
    hint:
      "A runner mounts a host folder the cluster was created without. Recreating it restarts " +
      "every runner; caches on this machine stay. Run `deskrun up --recreate-cluster`, or " +
      "start the runners again and allow it.",
  },
  internal: {
    title: "Something went wrong",
    hint: "The details are below; the log file has more.",
  },
};

/** What to tell the user about `error`. */
export function adviceFor(error: ApiError): ErrorAdvice {
  return ADVICE[error.code] ?? ADVICE.internal;
}
