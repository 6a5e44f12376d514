// Files in a dialogue: stored files (bot.files) shown in the history, images inline and the
// rest as downloads, all from GET /api/files/<id> (the server sets nosniff and a sandbox);
// and the operator's own: the attach button of the reply box, or a file dropped on the
// dialogue, sent with POST /api/uploads/tickets/<id> as a message of its own.

import { upload } from "./api.js";
import { el, part } from "./dom.js";
import { _, nameOf } from "./i18n.js";

const INLINE = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

/** Whether an attachment is a file of the file store (not a pressed button, not a Telegram proxy link). */
export function isStoredFile(item) {
  return Boolean(item && typeof item === "object" && item.stored === true && /^[\w-]{16,64}$/.test(item.file_id ?? ""));
}

export function sizeLabel(bytes) {
  if (!bytes) return "";
  if (bytes >= 1048576) return _("{n} MB", { n: (bytes / 1048576).toFixed(1) });
  return _("{n} KB", { n: Math.max(1, Math.round(bytes / 1024)) });
}

/** One stored file in the history: a picture (opens full size in a new tab) or a download link. */
export function storedFileNode(item) {
  const url = `/api/files/${encodeURIComponent(item.file_id)}`;
  const name = item.file_name || _("file");
  if (INLINE.has(item.mime_type)) {
    const image = el("img", { src: url, alt: name, loading: "lazy", class: "attachment-image", testid: "attachment-image" });
    return el("li", { class: "file" }, el("a", { href: url, target: "_blank", rel: "noopener noreferrer", title: name }, image));
  }
  const kind = item.type && item.type !== "document" ? nameOf("attachments", item.type) : "";
  const text = [kind, name, sizeLabel(item.file_size)].filter(Boolean).join(" · ");
  return el("li", { class: "file" }, el("a", { href: url, download: name, testid: "attachment-link", text }));
}

/**
 * The attach button of a dialogue's reply box, and dropping files on the dialogue.
 * ticket(): the ticket held (or null); onSent(message): the stored message; toast(text, kind).
 */
export class AttachBox {
  constructor(root, { ticket, onSent, toast }) {
    this.root = root;
    this.ticket = ticket;
    this.onSent = onSent;
    this.toast = toast;
    this.input = part(root, "attach-input");
    this.button = part(root, "attach");
    if (!this.input || !this.button) return;
    this.button.addEventListener("click", () => this.input.click());
    this.input.addEventListener("change", async () => {
      const files = [...(this.input.files ?? [])];
      this.input.value = "";
      for (const file of files) await this.send(file);
    });
    root.addEventListener("dragover", (event) => {
      if (!this.canSend() || !event.dataTransfer?.types?.includes("Files")) return;
      event.preventDefault();
      root.classList.add("dropping");
    });
    root.addEventListener("dragleave", (event) => {
      if (event.target === root) root.classList.remove("dropping");
    });
    root.addEventListener("drop", async (event) => {
      root.classList.remove("dropping");
      if (!this.canSend() || !event.dataTransfer?.files?.length) return;
      event.preventDefault();
      for (const file of [...event.dataTransfer.files]) await this.send(file);
    });
  }

  canSend() {
    return Boolean(this.ticket()) && !this.button.disabled;
  }

  async send(file) {
    const ticket = this.ticket();
    if (!ticket) return false;
    this.toast(_("Sending {name}…", { name: file.name }), "ok");
    try {
      const message = await upload(`/api/uploads/tickets/${ticket.id}`, file);
      this.onSent(message);
      return true;
    } catch (error) {
      this.toast(error.detail ?? String(error), "error");
      return false;
    }
  }
}
