import { describe, expect, test } from "vitest";
import { hrefFor, parseHash, type Route } from "./router";

describe("parseHash", () => {
  test("an empty or root hash is the runner list", () => {
    expect(parseHash("")).toEqual({ view: "runners" });
    expect(parseHash("#/")).toEqual({ view: "runners" });
    expect(parseHash("#")).toEqual({ view: "runners" });
  });

  test("the tray's #/add opens the form", () => {
    expect(parseHash("#/add")).toEqual({ view: "add" });
  });

  test("edit carries the runner's name, decoded", () => {
    expect(parseHash("#/edit/web")).toEqual({ view: "edit", name: "web" });
    expect(parseHash("#/edit/a%2Fb")).toEqual({ view: "edit", name: "a/b" });
  });

  test("the other views", () => {
    expect(parseHash("#/activity")).toEqual({ view: "activity" });
    expect(parseHash("#/settings/")).toEqual({ view: "settings" });
    expect(parseHash("#/diagnostics")).toEqual({ view: "diagnostics" });
  });

  test("anything else is not found, never a crash", () => {
    expect(parseHash("#/nope")).toEqual({ view: "not-found", path: "nope" });
    expect(parseHash("#/edit")).toEqual({ view: "not-found", path: "edit" });
    expect(parseHash("#/edit/%E0%A4%A")).toEqual({ view: "not-found", path: "edit/%E0%A4%A" });
    expect(parseHash("#/add/extra")).toEqual({ view: "not-found", path: "add/extra" });
  });
});

test("hrefFor and parseHash agree on every view", () => {
  const routes: Route[] = [
    { view: "runners" },
    { view: "add" },
    { view: "edit", name: "my-runner" },
    { view: "activity" },
    { view: "settings" },
    { view: "diagnostics" },
  ];
  for (const route of routes) expect(parseHash(hrefFor(route))).toEqual(route);
});
