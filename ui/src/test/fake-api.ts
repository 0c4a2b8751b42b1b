// A stand-in for `lib/api.ts`, the window's only boundary with the backend. Component tests
// replace that module with this one (`vi.mock`) and script its answers; `emit` plays the
// backend's events.

import { vi } from "vitest";
import type * as Api from "../lib/api";
import { ApiError } from "../lib/errors";

type Listener<T> = (value: T) => void;

const trayListeners = new Set<Listener<Api.TrayView>>();
const activityListeners = new Set<Listener<Api.ActivityItem>>();

function listenerOf<T>(listeners: Set<Listener<T>>) {
  return (listener: Listener<T>): Api.Unsubscribe => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
}

/** The module `vi.mock("…/lib/api")` returns: every export, as mocks with sane defaults. */
export function fakeApiModule(): typeof Api {
  return {
    ApiError,
    overview: vi.fn(async () => overviewOf([])),
    doctor: vi.fn(async () => doctorOf([checkOf()])),
    validateField: vi.fn(async () => null),
    validateCounts: vi.fn(async () => ({
      name: null,
      min_runners: null,
      max_runners: null,
      instances: null,
    })),
    saveRunner: vi.fn(async () => "runs-on: web"),
    removeRunner: vi.fn(async () => undefined),
    startRunners: vi.fn(async () => undefined),
    pauseRunners: vi.fn(async () => undefined),
    recentActivity: vi.fn(async () => []),
    getSettings: vi.fn(async () => settingsOf()),
    setSettings: vi.fn(async () => undefined),
    appVersion: vi.fn(async () => null),
    openLink: vi.fn(async () => undefined),
    onTrayChanged: vi.fn(listenerOf(trayListeners)),
    onActivityChanged: vi.fn(listenerOf(activityListeners)),
  };
}

/** Plays the backend's events to whoever subscribed. */
export const emit = {
  tray(view: Api.TrayView): void {
    for (const listener of trayListeners) listener(view);
  },
  activity(item: Api.ActivityItem): void {
    for (const listener of activityListeners) listener(item);
  },
};

/** How many subscribers each event has, to check views let go of them. */
export function subscriberCounts(): { tray: number; activity: number } {
  return { tray: trayListeners.size, activity: activityListeners.size };
}

/** Forgets every subscriber; call between tests. */
export function resetFakeApi(): void {
  trayListeners.clear();
  activityListeners.clear();
}

/** A runner as the overview lists it. */
export function runnerOf(overrides: Partial<Api.RunnerView> = {}): Api.RunnerView {
  const name = overrides.name ?? "web";
  return {
    name,
    repository: "https://github.com/acme/web",
    mode: "kubernetes",
    min_runners: 1,
    max_runners: 5,
    instances: 1,
    mounts: [],
    auth: "pat",
    app_id: null,
    runs_on: `runs-on: ${name}`,
    state: "idle",
    runners_online: 1,
    jobs: [],
    attention: null,
    cache_bytes: null,
    ...overrides,
  };
}

/** An overview of a running cluster holding `runners`. */
export function overviewOf(
  runners: Api.RunnerView[],
  overrides: Partial<Api.Overview> = {},
): Api.Overview {
  return {
    cluster: "deskrun",
    cluster_running: true,
    tray: { state: "idle", text: `${runners.length} runners idle` },
    runners,
    operation: null,
    ...overrides,
  };
}

/** One environment check; a passing one unless told otherwise. */
export function checkOf(overrides: Partial<Api.CheckView> = {}): Api.CheckView {
  return {
    id: "docker",
    title: "Docker daemon",
    status: "pass",
    message: "answers at unix:///var/run/docker.sock",
    fix: null,
    ...overrides,
  };
}

/** The doctor's report of `checks`, counted as the engine counts them. */
export function doctorOf(checks: Api.CheckView[]): Api.DoctorView {
  const count = (status: Api.CheckStatus) => checks.filter((c) => c.status === status).length;
  return { checks, pass: count("pass"), warn: count("warn"), fail: count("fail") };
}

/** A job. */
export function jobOf(overrides: Partial<Api.JobView> = {}): Api.JobView {
  return {
    name: "build",
    repository: "acme/web",
    scale_set: "web",
    runner: "web-runner-x7k2p",
    workflow: "ci.yml@refs/heads/main",
    run_url: "https://github.com/acme/web/actions/runs/42",
    started_at: new Date(Date.now() - 90_000).toISOString(),
    ...overrides,
  };
}

/** A line of the activity feed. */
export function activityOf(overrides: Partial<Api.ActivityItem> = {}): Api.ActivityItem {
  return {
    key: "web-runner-x7k2p/1001",
    job: jobOf(),
    result: "running",
    duration_secs: null,
    ...overrides,
  };
}

/** Settings as stored. */
export function settingsOf(overrides: Partial<Api.Settings> = {}): Api.Settings {
  return {
    notify_job_started: true,
    notify_job_finished: true,
    notify_attention: true,
    start_at_login: false,
    cluster: "deskrun",
    ...overrides,
  };
}

/** A promise and the functions that settle it, to hold a command mid-flight. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
