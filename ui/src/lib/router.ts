// Hash routes: the tray opens `index.html#/add`, and every view has an address of its own.

/** A view and what it is about. */
export type Route =
  | { view: "runners" }
  | { view: "add" }
  | { view: "edit"; name: string }
  | { view: "activity" }
  | { view: "settings" }
  | { view: "diagnostics" }
  | { view: "not-found"; path: string };

/** The route a location hash (`#/edit/web`) names. */
export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, "").replace(/^\/+/, "").replace(/\/+$/, "");
  const [head = "", ...rest] = path.split("/");
  switch (head) {
    case "":
    case "runners":
      return rest.length === 0 ? { view: "runners" } : notFound(path);
    case "add":
    case "activity":
    case "settings":
    case "diagnostics":
      return rest.length === 0 ? { view: head } : notFound(path);
    case "edit": {
      const name = rest.length === 1 ? safeDecode(rest[0]) : null;
      return name ? { view: "edit", name } : notFound(path);
    }
    default:
      return notFound(path);
  }
}

/** The hash that leads to `route`. */
export function hrefFor(route: Route): string {
  switch (route.view) {
    case "runners":
      return "#/";
    case "edit":
      return `#/edit/${encodeURIComponent(route.name)}`;
    case "not-found":
      return `#/${route.path}`;
    default:
      return `#/${route.view}`;
  }
}

/** Goes to `route`. */
export function navigate(route: Route): void {
  window.location.hash = hrefFor(route);
}

function notFound(path: string): Route {
  return { view: "not-found", path };
}

function safeDecode(part: string | undefined): string | null {
  if (!part) return null;
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}
