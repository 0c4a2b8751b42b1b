// Checking a form field as the user types, with the engine's own rules (`validate_field`):
// debounced so a burst of keystrokes makes one call, and a late answer for an older value
// never overwrites the answer for the current one.

import { validateField, type FormField } from "./api";
import { ApiError } from "./errors";

/** How long typing must pause before the engine is asked. */
export const CHECK_DELAY_MS = 150;

/** The engine's verdict on one field, kept up to date as its value changes. */
export class FieldCheck {
  readonly field: FormField;
  /** The engine's message, or `null` when the value is fine (or not checked yet). */
  message = $state<string | null>(null);
  /** A check is scheduled or in flight. */
  pending = $state(false);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #generation = 0;

  constructor(field: FormField) {
    this.field = field;
  }

  /** The value is known to be fine (checked, nothing pending). */
  get ok(): boolean {
    return !this.pending && this.message === null;
  }

  /** Schedules a check of `value`, replacing any earlier one. */
  check(value: string): void {
    clearTimeout(this.#timer);
    const generation = ++this.#generation;
    this.pending = true;
    this.#timer = setTimeout(() => void this.#run(value, generation), CHECK_DELAY_MS);
  }

  /** Forgets any verdict, e.g. when the field is hidden or its value is the stored one. */
  reset(): void {
    clearTimeout(this.#timer);
    this.#generation += 1;
    this.pending = false;
    this.message = null;
  }

  async #run(value: string, generation: number): Promise<void> {
    let message: string | null;
    try {
      message = await validateField(this.field, value);
    } catch (error) {
      message = `Could not check this value: ${ApiError.from(error).message}`;
    }
    if (generation !== this.#generation) return;
    this.message = message;
    this.pending = false;
  }
}
