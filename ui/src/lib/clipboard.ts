// Copying a line (e.g. `runs-on: web`) to the clipboard, also where the async Clipboard API
// is unavailable or refused.

/** Copies `text`; resolves to whether it worked. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return copyWithSelection(text);
  }
}

function copyWithSelection(text: string): boolean {
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  try {
    // NB: deprecated but still the only fallback WebKitGTK honours without a permission.
    return document.execCommand("copy");
  } catch {
    return false;
  } finally {
    area.remove();
  }
}
