// The words and colours of states: a runner's (idle, busy…), a job's result, the tray's, an
// environment check's.

/** A badge's colour family; each maps to a pair of theme variables. */
export type Tone = "ok" | "busy" | "warn" | "danger" | "neutral" | "accent";

/** What a badge says and how it looks. */
export interface BadgeLook {
  label: string;
  tone: Tone;
}

const RUNNER_STATES: Record<string, BadgeLook> = {
  idle: { label: "Idle", tone: "ok" },
  busy: { label: "Busy", tone: "busy" },
  attention: { label: "Needs attention", tone: "warn" },
  "not-deployed": { label: "Not deployed", tone: "neutral" },
  unknown: { label: "Checking…", tone: "neutral" },
};

/** A runner's `state` from the overview. */
export function runnerBadge(state: string): BadgeLook {
  return RUNNER_STATES[state] ?? { label: state, tone: "neutral" };
}

const RESULTS: Record<string, BadgeLook> = {
  running: { label: "Running", tone: "busy" },
  succeeded: { label: "Succeeded", tone: "ok" },
  failed: { label: "Failed", tone: "danger" },
  cancelled: { label: "Cancelled", tone: "neutral" },
  skipped: { label: "Skipped", tone: "neutral" },
  finished: { label: "Finished", tone: "neutral" },
};

/** A job's `result` in the activity feed ("finished" when GitHub did not say). */
export function resultBadge(result: string): BadgeLook {
  return RESULTS[result] ?? { label: result, tone: "neutral" };
}

const TRAY_STATES: Record<string, BadgeLook> = {
  stopped: { label: "Stopped", tone: "neutral" },
  starting: { label: "Starting", tone: "accent" },
  idle: { label: "Idle", tone: "ok" },
  busy: { label: "Busy", tone: "busy" },
  attention: { label: "Needs attention", tone: "warn" },
};

/** The tray's `state`. */
export function trayBadge(state: string): BadgeLook {
  return TRAY_STATES[state] ?? { label: state, tone: "neutral" };
}

const CHECK_STATUSES: Record<string, BadgeLook> = {
  pass: { label: "Pass", tone: "ok" },
  warn: { label: "Warning", tone: "warn" },
  fail: { label: "Fail", tone: "danger" },
};

/** An environment check's `status` from the doctor. */
export function checkBadge(status: string): BadgeLook {
  return CHECK_STATUSES[status] ?? { label: status, tone: "neutral" };
}
