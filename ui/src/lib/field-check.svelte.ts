// Checking values as the user types, with the engine's own rules (`validate_field`,
// `validate_counts`): debounced so a burst of keystrokes makes one call, and a late answer
// for an older value never overwrites the answer for the current one.

import { validateField, type FormField } from "./api";
import { ApiError } from "./errors";

/** How long typing must pause before the engine is asked. */
export const CHECK_DELAY_MS = 150;

/** The engine's answer about a value, kept up to date as the value changes. */
export class EngineCheck<V, A> {
  /** The answer for the latest value checked, or `null` before the first (or after reset). */
  answer = $state<A | null>(null);
  /** A check is scheduled or in flight. */
  pending = $state(false);
  readonly #ask: (value: V) => Promise<A>;
  readonly #failed: (message: string) => A;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #generation = 0;

  /** `ask` puts the question to the engine; `failed` turns a failed call into an answer. */
  constructor(ask: (value: V) => Promise<A>, failed: (message: string) => A) {
    this.#ask = ask;
    this.#failed = failed;
  }

  /** Schedules a check of `value`, replacing any earlier one. */
  check(value: V): void {
    clearTimeout(this.#timer);
    const generation = ++this.#generation;
    this.pending = true;
    this.#timer = setTimeout(() => void this.#run(value, generation), CHECK_DELAY_MS);
  }

  /** Forgets any answer, e.g. when the field is hidden or its value is the stored one. */
  reset(): void {
    clearTimeout(this.#timer);
    this.#generation += 1;
    this.pending = false;
    this.answer = null;
  }

  async #run(value: V, generation: number): Promise<void> {
    let answer: A;
    try {
      answer = await this.#ask(value);
    } catch (error) {
      answer = this.#failed(ApiError.from(error).message);
    }
    if (generation !== this.#generation) return;
    this.answer = answer;
    this.pending = false;
  }
}

/** The engine's verdict on one form field. */
export class FieldCheck extends EngineCheck<string, string | null> {
  readonly field: FormField;

  constructor(field: FormField) {
    super(
      (value) => validateField(field, value),
      (message) => `Could not check this value: ${message}`,
    );
    this.field = field;
  }

  /** The engine's message, or `null` when the value is fine (or not checked yet). */
  get message(): string | null {
    return this.answer;
  }

  /** The value is known to be fine (checked, nothing pending). */
  get ok(): boolean {
    return !this.pending && this.message === null;
  }
}
