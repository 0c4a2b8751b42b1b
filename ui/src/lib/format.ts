// How numbers and times read in the window: short, human, and the same everywhere.

const BYTE_UNITS = ["B", "kB", "MB", "GB", "TB", "PB"];

/** `1234567` → "1.2 MB" (decimal units, as file managers show them). */
export function humanBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return "—";
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < BYTE_UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

/** `75` → "1 min 15 s"; `3900` → "1 h 5 min". */
export function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  // NB: whole seconds down, as the notification counts them ("in 5s" and "5 s", not "6 s").
  const total = Math.floor(seconds);
  if (total < 60) return `${total} s`;
  const minutes = Math.floor(total / 60);
  if (minutes < 60) {
    const rest = total % 60;
    return rest === 0 ? `${minutes} min` : `${minutes} min ${rest} s`;
  }
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

const TIME = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const DATE_TIME = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const FULL = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });

/** An RFC 3339 time as "14:32" today or "Mar 3, 14:32" otherwise; the input if unparsable. */
export function shortTime(rfc3339: string, now: Date = new Date()): string {
  const at = new Date(rfc3339);
  if (Number.isNaN(at.getTime())) return rfc3339;
  return at.toDateString() === now.toDateString() ? TIME.format(at) : DATE_TIME.format(at);
}

/** An RFC 3339 time in full, for a tooltip. */
export function fullTime(rfc3339: string): string {
  const at = new Date(rfc3339);
  return Number.isNaN(at.getTime()) ? rfc3339 : FULL.format(at);
}

/** Seconds from `rfc3339` until `now`, or `null` if the time is unparsable. */
export function secondsSince(rfc3339: string, now: Date = new Date()): number | null {
  const at = new Date(rfc3339).getTime();
  return Number.isNaN(at) ? null : Math.max(0, (now.getTime() - at) / 1000);
}

/** `url` if it is a web link that is safe to render as one, else `null`. */
export function webLink(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.href : null;
  } catch {
    return null;
  }
}

/** "1 runner", "2 runners". */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
