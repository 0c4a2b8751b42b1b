// The overview (cluster, tray state, runners) kept current from the backend's events: a
// tray or activity change triggers one reload, never a timer. Reloads that arrive while one
// is in flight collapse into a single follow-up.

import { onActivityChanged, onTrayChanged, overview, type Overview } from "./api";
import { ApiError } from "./errors";

/** The overview as the views read it. */
export class LiveOverview {
  overview = $state<Overview | null>(null);
  error = $state<ApiError | null>(null);
  loading = $state(true);
  #inFlight = false;
  #again = false;

  /** Loads now, or once more after the load in flight. */
  async refresh(): Promise<void> {
    if (this.#inFlight) {
      this.#again = true;
      return;
    }
    this.#inFlight = true;
    try {
      do {
        this.#again = false;
        await this.#load();
      } while (this.#again);
    } finally {
      this.#inFlight = false;
      this.loading = false;
    }
  }

  /** Loads and follows the events until the returned function is called. */
  start(): () => void {
    void this.refresh();
    const stopTray = onTrayChanged((tray) => {
      if (this.overview) this.overview.tray = tray;
      void this.refresh();
    });
    const stopActivity = onActivityChanged(() => void this.refresh());
    return () => {
      stopTray();
      stopActivity();
    };
  }

  async #load(): Promise<void> {
    try {
      this.overview = await overview();
      this.error = null;
    } catch (error) {
      this.error = ApiError.from(error);
    }
  }
}
