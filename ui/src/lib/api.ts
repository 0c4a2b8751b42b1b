// The one module that talks to the backend: it wraps the generated bindings, turns every
// failure into an `ApiError`, and hands out the two live events. Nothing here logs: tokens
// and private keys pass through `saveRunner`.

import { getVersion } from "@tauri-apps/api/app";
import { Channel } from "@tauri-apps/api/core";
import {
  commands,
  events,
  type ActivityItem_Serialize,
  type CheckStatus,
  type CheckView_Serialize,
  type CountsCheck_Serialize,
  type DoctorView_Serialize,
  type FormField,
  type JobView_Serialize,
  type Overview_Serialize,
  type ProgressView,
  type RunnerForm_Deserialize,
  type RunnerView_Serialize,
  type Settings,
  type TrayView,
} from "./bindings";
import { ApiError } from "./errors";

export type { CheckStatus, FormField, ProgressView, Settings, TrayView };

// NB: the bindings type each struct twice: `_Serialize` is what the backend sends, and
// `_Deserialize` what it accepts. The views only need one name for each.
/** The cluster, the tray state and every runner. */
/** The engine's verdict on the runner counts. */
export type CountsCheck = CountsCheck_Serialize;
export type Overview = Overview_Serialize;
/** One configured runner and how it is doing. */
export type RunnerView = RunnerView_Serialize;
/** A job running or run. */
export type JobView = JobView_Serialize;
/** A line of the activity feed. */
export type ActivityItem = ActivityItem_Serialize;
/** What the add/edit form sends. */
export type RunnerForm = RunnerForm_Deserialize;
/** The environment checks (`deskrun doctor`) and how many ended each way. */
export type DoctorView = DoctorView_Serialize;
/** One environment check: what was found and, unless it passed, the fix. */
export type CheckView = CheckView_Serialize;

export { ApiError };

/** Receives the steps of a long operation as they happen. */
export type ProgressHandler = (progress: ProgressView) => void;

/** Stops a subscription. */
export type Unsubscribe = () => void;

type CommandResult<T> = { status: "ok"; data: T } | { status: "error"; error: unknown };

/** Awaits a command returning a `Result`, throwing its error as an `ApiError`. */
async function unwrap<T>(pending: Promise<CommandResult<T>>): Promise<T> {
  const result = await guard(pending);
  if (result.status === "error") throw ApiError.from(result.error);
  return result.data;
}

/** Awaits any command, turning a rejection (e.g. IPC itself failing) into an `ApiError`. */
async function guard<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (error) {
    throw ApiError.from(error);
  }
}

function progressChannel(onProgress: ProgressHandler): Channel<ProgressView> {
  const channel = new Channel<ProgressView>();
  channel.onmessage = onProgress;
  return channel;
}

/** The cluster, the tray state and every runner. */
export function overview(): Promise<Overview> {
  return unwrap(commands.overview());
}

/** Runs the environment checks `deskrun doctor` runs; a problem is a check, not an error. */
export function doctor(): Promise<DoctorView> {
  return guard(commands.doctor());
}

/** The engine's complaint about one form field, or `null` when the value is fine. */
export function validateField(field: FormField, value: string): Promise<string | null> {
  return guard(commands.validateField(field, value));
}

/** The engine's verdict on the runner counts (and on `name` with the suffix the instances
 *  add), one message per field at fault. A count that is not a whole number from 0 to
 *  2^32 - 1 goes as `null` ("enter a whole number"). */
export function validateCounts(
  name: string,
  minRunners: number | null,
  maxRunners: number | null,
  instances: number | null,
): Promise<CountsCheck> {
  const count = (n: number | null) =>
    typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffffffff ? n : null;
  return guard(
    commands.validateCounts(name, count(minRunners), count(maxRunners), count(instances)),
  );
}

/** Saves (and deploys) a runner; resolves to its `runs-on:` line. */
export function saveRunner(form: RunnerForm, onProgress: ProgressHandler): Promise<string> {
  return unwrap(commands.saveRunner(form, progressChannel(onProgress)));
}

/** Removes a runner from the cluster, the config and the keyring. */
export function removeRunner(name: string, onProgress: ProgressHandler): Promise<void> {
  return unwrap(commands.removeRunner(name, progressChannel(onProgress))).then(() => undefined);
}

/** Creates the cluster if needed and deploys every runner. */
export function startRunners(recreateCluster: boolean, onProgress: ProgressHandler): Promise<void> {
  const channel = progressChannel(onProgress);
  return unwrap(commands.startRunners(recreateCluster, channel)).then(() => undefined);
}

/** Removes every scale set from the cluster, keeping the config. */
export function pauseRunners(onProgress: ProgressHandler): Promise<void> {
  return unwrap(commands.pauseRunners(progressChannel(onProgress))).then(() => undefined);
}

/** The recent jobs, newest first. */
export function recentActivity(): Promise<ActivityItem[]> {
  return guard(commands.recentActivity());
}

/** The settings. */
export function getSettings(): Promise<Settings> {
  return unwrap(commands.getSettings());
}

/** Saves the settings. */
export function setSettings(settings: Settings): Promise<void> {
  return unwrap(commands.setSettings(settings)).then(() => undefined);
}

/** Opens an https page (a run, a repository) in the user's browser. */
export function openLink(url: string): Promise<void> {
  return unwrap(commands.openLink(url)).then(() => undefined);
}

/** The app's version, or `null` when the window may not ask. */
export async function appVersion(): Promise<string | null> {
  try {
    return await getVersion();
  } catch {
    return null;
  }
}

/** Calls `onChange` with the tray state whenever it changes. */
export function onTrayChanged(onChange: (view: TrayView) => void): Unsubscribe {
  return subscribe(events.trayChanged.listen((event) => onChange(event.payload)));
}

/** Calls `onChange` with each activity line as a job starts or finishes. */
export function onActivityChanged(onChange: (item: ActivityItem) => void): Unsubscribe {
  return subscribe(events.activityChanged.listen((event) => onChange(event.payload)));
}

/** A synchronous unsubscribe over Tauri's asynchronous `listen`, safe to call at any time. */
function subscribe(listening: Promise<() => void>): Unsubscribe {
  let stopped = false;
  let unlisten: (() => void) | null = null;
  listening
    .then((stop) => {
      if (stopped) stop();
      else unlisten = stop;
    })
    .catch(() => {
      // NB: outside Tauri (or without the event permission) there is nothing to listen to;
      // the views still work from their initial load.
    });
  return () => {
    stopped = true;
    unlisten?.();
    unlisten = null;
  };
}
