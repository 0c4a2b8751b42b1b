import { expect, test } from "vitest";
import { humanBytes, humanDuration, plural, secondsSince, webLink } from "./format";

test("humanBytes reads like a file manager", () => {
  expect(humanBytes(0)).toBe("0 B");
  expect(humanBytes(999)).toBe("999 B");
  expect(humanBytes(1_234)).toBe("1.2 kB");
  expect(humanBytes(5_600_000_000)).toBe("5.6 GB");
  expect(humanBytes(250_000_000)).toBe("250 MB");
  expect(humanBytes(-1)).toBe("—");
});

test("humanDuration drops the units that do not matter", () => {
  expect(humanDuration(4.4)).toBe("4 s");
  expect(humanDuration(5.6), "as the notification counts: whole seconds down").toBe("5 s");
  expect(humanDuration(60)).toBe("1 min");
  expect(humanDuration(75)).toBe("1 min 15 s");
  expect(humanDuration(3600)).toBe("1 h");
  expect(humanDuration(3900)).toBe("1 h 5 min");
});

test("secondsSince counts from an RFC 3339 time", () => {
  const now = new Date("2025-03-03T12:00:30Z");
  expect(secondsSince("2025-03-03T12:00:00Z", now)).toBe(30);
  expect(secondsSince("not a time", now)).toBeNull();
});

test("webLink lets only web addresses become links", () => {
  expect(webLink("https://github.com/acme/web/actions/runs/1")).toBe(
    "https://github.com/acme/web/actions/runs/1",
  );
  expect(webLink("javascript:alert(1)")).toBeNull();
  expect(webLink("not a url")).toBeNull();
  expect(webLink(null)).toBeNull();
});

test("plural", () => {
  expect(plural(1, "runner")).toBe("1 runner");
  expect(plural(3, "runner")).toBe("3 runners");
});
