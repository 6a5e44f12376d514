// The admins' quick-phrase screen (/panel/admin): list, add, change and delete the operators'
// canned answers through /api/admin/quick-phrases. Phrase text is shown with textContent only.

import { ApiError, del, get, post, put } from "./api.js";
import { el, part } from "./dom.js";
import { _ } from "./i18n.js";

const rows = part(document, "phrase-rows");

function toast(text, kind = "ok") {
  const note = el("div", { class: `toast ${kind}`, testid: "toast", role: kind === "error" ? "alert" : "status" }, el("span", { text }));
  part(document, "toasts").append(note);
  setTimeout(() => note.remove(), kind === "error" ? 10_000 : 5_000);
}

async function guarded(action) {
  try {
    return await action();
  } catch (error) {
    toast(error instanceof ApiError ? error.detail : String(error), "error");
    return undefined;
  }
}

function row(phrase) {
  const shortcut = el("input", { value: phrase.shortcut, maxlength: 32, "aria-label": _("Shortcut"), testid: "row-shortcut" });
  const text = el("textarea", { rows: 2, maxlength: 1000, "aria-label": _("Phrase"), testid: "row-text" });
  text.value = phrase.text;
  const save = el("button", { type: "button", testid: "row-save", text: _("Save") });
  const remove = el("button", { type: "button", class: "danger", testid: "row-delete", text: _("Delete") });
  save.addEventListener("click", async () => {
    const saved = await guarded(() => put(`/api/admin/quick-phrases/${phrase.id}`, { shortcut: shortcut.value, text: text.value }));
    if (saved) {
      toast(_("Saved {shortcut}.", { shortcut: saved.shortcut }));
      await load();
    }
  });
  remove.addEventListener("click", async () => {
    if (!window.confirm(_("Delete the quick phrase {shortcut}?", { shortcut: phrase.shortcut }))) return;
    if (await guarded(() => del(`/api/admin/quick-phrases/${phrase.id}`))) {
      toast(_("Deleted {shortcut}.", { shortcut: phrase.shortcut }));
      await load();
    }
  });
  return el(
    "tr",
    { testid: "phrase-row", dataset: { shortcut: phrase.shortcut } },
    el("td", {}, shortcut),
    el("td", {}, text),
    el("td", { class: "row-actions" }, save, remove),
  );
}

async function load() {
  const phrases = await guarded(() => get("/api/admin/quick-phrases"));
  if (!phrases) return;
  rows.replaceChildren(...phrases.map(row));
  if (phrases.length === 0) {
    rows.append(el("tr", {}, el("td", { colspan: 3, class: "muted", text: _("No quick phrases yet.") })));
  }
}

const form = part(document, "phrase-form");
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { shortcut: form.elements.shortcut.value, text: form.elements.text.value };
  const added = await guarded(() => post("/api/admin/quick-phrases", body));
  if (added) {
    form.reset();
    toast(_("Added {shortcut}.", { shortcut: added.shortcut }));
    await load();
  }
});

await load();
document.body.dataset.ready = "true";
