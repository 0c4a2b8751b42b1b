// Long operations (save, start, pause, remove) as live state: the plan, the steps done, the
// notes and warnings the backend streams, and how it ended. One runs at a time, and it lives
// outside any view, so leaving a view never loses track of it.

import type { ProgressHandler, ProgressView } from "./api";
import { ApiError } from "./errors";

/** How an operation is doing. */
export type OperationStatus = "running" | "succeeded" | "failed";

/** A sentence the backend sent along the way. */
export interface OperationNote {
  kind: "note" | "warning";
  message: string;
}

/** One long operation and everything it reported. */
export class Operation {
  readonly title: string;
  status = $state<OperationStatus>("running");
  plan = $state<string[]>([]);
  done = $state(0);
  total = $state(0);
  /** The actions done so far, in the order they finished. */
  applied = $state<string[]>([]);
  notes = $state<OperationNote[]>([]);
  error = $state<ApiError | null>(null);

  constructor(title: string) {
    this.title = title;
  }

  /** The last step done, as "[2/5] done: deploy web". */
  get lastStep(): string | null {
    const last = this.applied.at(-1);
    return last === undefined ? null : `[${this.done}/${this.total}] done: ${last}`;
  }

  /** Takes one progress message from the backend. */
  receive(progress: ProgressView): void {
    switch (progress.kind) {
      case "note":
        this.notes.push({ kind: "note", message: progress.message });
        break;
      case "warning":
        this.notes.push({ kind: "warning", message: progress.message });
        break;
      case "plan":
        this.plan = [...progress.actions];
        this.total = progress.actions.length;
        break;
      case "applied":
        this.applied.push(progress.action);
        this.done = progress.done;
        this.total = progress.total;
        break;
    }
  }
}

/** The operation running now, or the last one until it is dismissed. */
export const operations = $state<{ current: Operation | null }>({ current: null });

/** Whether an operation is running, so others must wait. */
export function operationRunning(): boolean {
  return operations.current?.status === "running";
}

/** How a finished operation ended, for the view that started it. */
export type OperationOutcome<T> = { ok: true; value: T } | { ok: false; error: ApiError };

/** A started operation and the promise of its outcome, which never rejects. */
export interface StartedOperation<T> {
  operation: Operation;
  outcome: Promise<OperationOutcome<T>>;
}

/**
 * Starts `work` as the current operation, feeding it the progress handler. While another
 * runs, the returned operation has already failed (and does not replace the running one).
 */
export function startOperation<T>(
  title: string,
  work: (onProgress: ProgressHandler) => Promise<T>,
): StartedOperation<T> {
  const operation = new Operation(title);
  if (operationRunning()) {
    const error = new ApiError("internal", `Wait for “${operations.current?.title}” to finish.`);
    operation.error = error;
    operation.status = "failed";
    return { operation, outcome: Promise.resolve({ ok: false, error }) };
  }
  operations.current = operation;
  return { operation, outcome: settle(operation, work) };
}

/** Runs `work` as the current operation and waits for its outcome. */
export function runOperation<T>(
  title: string,
  work: (onProgress: ProgressHandler) => Promise<T>,
): Promise<OperationOutcome<T>> {
  return startOperation(title, work).outcome;
}

async function settle<T>(
  operation: Operation,
  work: (onProgress: ProgressHandler) => Promise<T>,
): Promise<OperationOutcome<T>> {
  try {
    const value = await work((progress) => operation.receive(progress));
    operation.status = "succeeded";
    return { ok: true, value };
  } catch (caught) {
    const error = ApiError.from(caught);
    operation.error = error;
    operation.status = "failed";
    return { ok: false, error };
  }
}

/** Forgets a finished operation. */
export function dismissOperation(): void {
  if (!operationRunning()) operations.current = null;
}
