import { beforeEach, expect, test, vi } from "vitest";
import { userEvent } from "vitest/browser";
import { render } from "vitest-browser-svelte";
import * as api from "../lib/api";
import { ApiError } from "../lib/errors";
import { LiveOverview } from "../lib/live-overview.svelte";
import { operations, startOperation } from "../lib/operation.svelte";
import { deferred, overviewOf, resetFakeApi, runnerOf } from "../test/fake-api";
import RunnerEditor from "./RunnerEditor.svelte";

vi.mock("../lib/api", async () => (await import("../test/fake-api")).fakeApiModule());

const BAD_NAME =
  "invalid name \"Web\": it has characters other than lowercase letters, digits and '-'";

beforeEach(() => {
  vi.resetAllMocks();
  resetFakeApi();
  operations.current = null;
  vi.mocked(api.validateCounts).mockResolvedValue({
    name: null,
    min_runners: null,
    max_runners: null,
    instances: null,
  });
  vi.mocked(api.validateField).mockImplementation(async (field, value) => {
    if (field === "name" && /[^a-z0-9-]/.test(value)) return BAD_NAME;
    if (field === "mount" && !value.startsWith("/")) return `mount "${value}": not absolute`;
    return null;
  });
});

async function renderEditor(editName: string | null = null) {
  const live = new LiveOverview();
  live.start();
  const screen = await render(RunnerEditor, { live, editName });
  return { screen, live };
}

async function fillValidPat(screen: Awaited<ReturnType<typeof renderEditor>>["screen"]) {
  await screen.getByLabelText("Name", { exact: true }).fill("web");
  await screen.getByLabelText("Repository or organization URL").fill("https://github.com/acme/web");
  await screen.getByLabelText("Token", { exact: true }).fill("ghp_0123456789");
}

test("the engine's message shows under the field, and Save stays off until it is fixed", async () => {
  const { screen } = await renderEditor();
  const save = screen.getByRole("button", { name: "Add runner" });
  await expect.element(save).toBeDisabled();

  await fillValidPat(screen);
  await expect.element(save).toBeEnabled();

  const name = screen.getByLabelText("Name", { exact: true });
  await name.fill("Web");
  await expect.element(screen.getByText(BAD_NAME)).toBeVisible();
  await expect.element(name).toHaveAttribute("aria-invalid", "true");
  await expect.element(save).toBeDisabled();
  await expect.element(screen.getByText("Fix the fields marked in red.")).toBeVisible();
  expect(api.validateField).toHaveBeenCalledWith("name", "Web");

  await name.fill("web");
  await expect.element(screen.getByText(BAD_NAME)).not.toBeInTheDocument();
  await expect.element(save).toBeEnabled();
});

test("Save says what is missing while required fields are empty", async () => {
  const { screen } = await renderEditor();
  await expect
    .element(screen.getByText("Enter a name, a repository or organization URL and a token."))
    .toBeVisible();
});

test("each mount is checked, and a bad one blocks Save", async () => {
  const { screen } = await renderEditor();
  await fillValidPat(screen);

  await screen.getByRole("button", { name: "Add mount" }).click();
  const mount = screen.getByLabelText("Mount 1", { exact: true });
  await expect.element(mount).toHaveFocus();
  await mount.fill("cache");

  await expect.element(screen.getByText('mount "cache": not absolute')).toBeVisible();
  await expect.element(screen.getByRole("button", { name: "Add runner" })).toBeDisabled();

  await screen.getByRole("button", { name: "Remove mount 1" }).click();
  await expect.element(screen.getByRole("button", { name: "Add runner" })).toBeEnabled();
});

test("saving sends the form, shows the steps live, then the runs-on line", async () => {
  const held = deferred<string>();
  let progress: api.ProgressHandler = () => {};
  vi.mocked(api.saveRunner).mockImplementation((_form, onProgress) => {
    progress = onProgress;
    return held.promise;
  });
  const { screen } = await renderEditor();
  await fillValidPat(screen);
  await screen.getByRole("button", { name: "Add mount" }).click();
  await screen.getByLabelText("Mount 1", { exact: true }).fill("/var/lib/docker");
  await screen.getByLabelText("Container mode").selectOptions("dind");

  await screen.getByRole("button", { name: "Add runner" }).click();

  expect(api.saveRunner).toHaveBeenCalledWith(
    {
      name: "web",
      repository: "https://github.com/acme/web",
      mode: "dind",
      min_runners: 1,
      max_runners: 5,
      instances: 1,
      mounts: ["/var/lib/docker"],
      auth: "pat",
      secret: "ghp_0123456789",
      app_id: null,
      installation_id: null,
      replace: false,
      verify: true,
    },
    expect.any(Function),
  );
  await expect.element(screen.getByRole("button", { name: "Saving…" })).toBeDisabled();
  await expect.element(screen.getByLabelText("Token", { exact: true })).toBeDisabled();

  progress({ kind: "plan", actions: ["deploy web"] });
  progress({ kind: "applied", done: 1, total: 1, action: "deploy web" });
  await expect.element(screen.getByText("[1/1] done: deploy web")).toBeVisible();

  held.resolve("runs-on: web");
  await expect.element(screen.getByRole("heading", { name: "Runner added" })).toBeVisible();
  await expect.element(screen.getByText("runs-on: web", { exact: true })).toBeVisible();
  await expect.element(screen.getByRole("button", { name: "Copy: runs-on: web" })).toBeVisible();
});

test("rejected credentials are explained and the form stays editable", async () => {
  vi.mocked(api.saveRunner).mockRejectedValue(
    new ApiError("credentials_rejected", "GitHub: 401 Bad credentials"),
  );
  const { screen } = await renderEditor();
  await fillValidPat(screen);
  await screen.getByRole("button", { name: "Add runner" }).click();

  const alert = screen.getByRole("alert");
  await expect.element(alert).toHaveTextContent("GitHub did not accept these credentials");
  await expect.element(alert).toHaveTextContent("401 Bad credentials");
  await expect.element(screen.getByLabelText("Token", { exact: true })).toBeEnabled();
  await expect.element(screen.getByRole("button", { name: "Add runner" })).toBeEnabled();
});

test("a GitHub App needs its ID and key; the installation ID may stay empty", async () => {
  const { screen } = await renderEditor();
  await screen.getByLabelText("Name", { exact: true }).fill("web");
  await screen.getByLabelText("Repository or organization URL").fill("https://github.com/acme");
  await screen.getByLabelText("GitHub App").click();

  await expect.element(screen.getByLabelText("Token", { exact: true })).not.toBeInTheDocument();
  await expect.element(screen.getByText("Enter an App ID and a private key.")).toBeVisible();
  await expect
    .element(screen.getByLabelText(/Installation ID/))
    .toHaveAttribute("placeholder", "Looked up when empty");

  await screen.getByLabelText("App ID", { exact: true }).fill("123456");
  const pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n";
  const picker = screen.container.querySelector<HTMLInputElement>('input[type="file"]');
  if (!picker) throw new Error("the form has a file picker for the key");
  await userEvent.upload(picker, new File([pem], "app.pem", { type: "application/x-pem-file" }));
  await expect.element(screen.getByLabelText("Private key")).toHaveValue(pem);
  await expect.element(screen.getByText("Read from app.pem.")).toBeVisible();

  await screen.getByRole("button", { name: "Add runner" }).click();
  expect(api.saveRunner).toHaveBeenCalledWith(
    expect.objectContaining({
      auth: "github-app",
      app_id: "123456",
      installation_id: null,
      secret: pem,
    }),
    expect.any(Function),
  );
  expect(api.validateField).toHaveBeenCalledWith("app_id", "123456");
});

test("editing prefills the runner and keeps the stored token when left empty", async () => {
  vi.mocked(api.overview).mockResolvedValue(
    overviewOf([
      runnerOf({ name: "web", mode: "dind", max_runners: 3, mounts: ["/var/lib/docker"] }),
    ]),
  );
  const { screen } = await renderEditor("web");

  await expect.element(screen.getByRole("heading", { name: "Edit web" })).toBeVisible();
  await expect.element(screen.getByLabelText("Name", { exact: true })).toHaveValue("web");
  await expect.element(screen.getByLabelText("Name", { exact: true })).toHaveAttribute("readonly");
  await expect.element(screen.getByLabelText("Container mode")).toHaveValue("dind");
  await expect.element(screen.getByLabelText("Most runners")).toHaveValue(3);
  await expect
    .element(screen.getByLabelText("Mount 1", { exact: true }))
    .toHaveValue("/var/lib/docker");
  await expect
    .element(screen.getByLabelText("Token", { exact: true }))
    .toHaveAttribute("placeholder", "Leave empty to keep the stored token");

  await screen.getByRole("button", { name: "Save changes" }).click();
  expect(api.saveRunner).toHaveBeenCalledWith(
    expect.objectContaining({ name: "web", secret: "", replace: true, max_runners: 3 }),
    expect.any(Function),
  );
});

test("editing a runner that does not exist says so", async () => {
  vi.mocked(api.overview).mockResolvedValue(overviewOf([]));
  const { screen } = await renderEditor("gone");
  await expect
    .element(screen.getByRole("heading", { name: "No runner named “gone”" }))
    .toBeVisible();
});

test("with several instances, the runner counts give way to one runner each", async () => {
  const { screen } = await renderEditor();
  await screen.getByLabelText("Name", { exact: true }).fill("ci");
  await screen.getByLabelText("Instances").fill("3");

  await expect.element(screen.getByLabelText("Idle runners")).toBeDisabled();
  await expect.element(screen.getByLabelText("Most runners")).toBeDisabled();
  await expect.element(screen.getByText(/3 separate scale sets/)).toHaveTextContent("ci-1");
});

test("the counts are checked together by the engine, and its message shows under the field", async () => {
  const ABOVE = "--min-runners 4 is not valid: it is above --max-runners 2";
  vi.mocked(api.validateCounts).mockImplementation(async (_name, min, max) => ({
    name: null,
    min_runners: min !== null && max !== null && min > max ? ABOVE : null,
    max_runners: null,
    instances: null,
  }));
  const { screen } = await renderEditor();
  await fillValidPat(screen);
  const save = screen.getByRole("button", { name: "Add runner" });
  await expect.element(save).toBeEnabled();

  await screen.getByLabelText("Idle runners").fill("4");
  await screen.getByLabelText("Most runners").fill("2");
  await expect.element(screen.getByText(ABOVE)).toBeVisible();
  await expect
    .element(screen.getByLabelText("Idle runners"))
    .toHaveAttribute("aria-invalid", "true");
  await expect.element(save).toBeDisabled();
  expect(api.validateCounts).toHaveBeenLastCalledWith("web", 4, 2, 1);

  await screen.getByLabelText("Most runners").fill("5");
  await expect.element(screen.getByText(ABOVE)).not.toBeInTheDocument();
  await expect.element(save).toBeEnabled();
});

test("a name that fits alone but not with the instances' suffix is marked as typed", async () => {
  const LONG = "x".repeat(42);
  const TOO_LONG = `name "${LONG}" is too long: 44 characters with the instance suffix "-2"`;
  vi.mocked(api.validateCounts).mockImplementation(async (name, _min, _max, instances) => ({
    name: name === LONG && instances !== null && instances > 1 ? TOO_LONG : null,
    min_runners: null,
    max_runners: null,
    instances: null,
  }));
  const { screen } = await renderEditor();
  await fillValidPat(screen);
  await screen.getByLabelText("Name", { exact: true }).fill(LONG);
  await screen.getByLabelText("Instances").fill("2");

  await expect.element(screen.getByText(TOO_LONG)).toBeVisible();
  await expect
    .element(screen.getByLabelText("Name", { exact: true }))
    .toHaveAttribute("aria-invalid", "true");
  await expect.element(screen.getByRole("button", { name: "Add runner" })).toBeDisabled();
  await screen.getByLabelText("Instances").fill("1");
  await expect.element(screen.getByText(TOO_LONG)).not.toBeInTheDocument();
});

test("a runner changed elsewhere while its form is open is not silently undone", async () => {
  const web = runnerOf({ name: "web", max_runners: 5 });
  vi.mocked(api.overview).mockResolvedValue(overviewOf([web]));
  const { screen, live } = await renderEditor("web");
  const save = screen.getByRole("button", { name: "Save changes" });
  await expect.element(screen.getByLabelText("Most runners")).toHaveValue(5);
  await screen.getByLabelText("Idle runners").fill("2");
  await expect.element(save).toBeEnabled();

  // The CLI changes the runner: `deskrun add web --replace --max-runners 9`.
  vi.mocked(api.overview).mockResolvedValue(overviewOf([{ ...web, max_runners: 9 }]));
  await live.refresh();

  await expect.element(screen.getByRole("alert")).toHaveTextContent("changed elsewhere");
  await expect.element(save).toBeDisabled();
  await screen.getByRole("button", { name: "Load the saved settings" }).click();
  await expect.element(screen.getByLabelText("Most runners")).toHaveValue(9);
  await expect.element(screen.getByRole("alert")).not.toBeInTheDocument();
  await expect.element(save).toBeEnabled();
});

test("while another operation runs, Save waits for it and says so", async () => {
  const held = deferred<void>();
  startOperation("Starting runners", () => held.promise);
  const { screen } = await renderEditor();
  await fillValidPat(screen);

  await expect.element(screen.getByText("Wait for “Starting runners” to finish.")).toBeVisible();
  await expect.element(screen.getByRole("button", { name: "Add runner" })).toBeDisabled();

  held.resolve();
  await expect.element(screen.getByRole("button", { name: "Add runner" })).toBeEnabled();
});
