// Open dialogues as tabs, each with an unread counter. A message counts as unread when
// it arrives in a dialogue that is not the active tab, or while the page is hidden.

import { el, part } from "./dom.js";
import { _ } from "./i18n.js";

const STORE_KEY = "botdesk.panel.tabs";

export class Tabs {
  /** bar: the tab list; panels: where dialogue views go; onChange(): counts or the active tab changed. */
  constructor(bar, panels, { onChange }) {
    this.bar = bar;
    this.panels = panels;
    this.onChange = onChange;
    this.open = new Map(); // conversation id -> { view, tab, unread }
    this.active = null;
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && this.active !== null) this.setUnread(this.active, 0);
    });
    bar.addEventListener("keydown", (event) => this.keydown(event));
  }

  has(id) {
    return this.open.has(id);
  }

  view(id) {
    return this.open.get(id)?.view ?? null;
  }

  views() {
    return [...this.open.values()].map((entry) => entry.view);
  }

  add(id, view, { activate = true } = {}) {
    if (this.open.has(id)) {
      if (activate) this.activate(id);
      return;
    }
    const label = el("span", { class: "tab-label", testid: "tab-label", text: view.customerName });
    const badge = el("span", { class: "badge", testid: "unread", hidden: true, text: "0" });
    const select = el(
      "button",
      {
        type: "button",
        role: "tab",
        class: "tab-select",
        testid: "tab-open",
        id: `tab-${id}`,
        "aria-controls": `dialogue-${id}`,
        "aria-selected": "false",
        tabindex: "-1",
      },
      label,
      badge,
    );
    select.addEventListener("click", () => this.activate(id));
    const close = el("button", { type: "button", class: "tab-close", testid: "tab-close", "aria-label": _("Close tab"), text: "×" });
    close.addEventListener("click", () => this.close(id));
    const tab = el("div", { class: "tab", testid: "tab", dataset: { conversationId: id } }, select, close);
    view.node.id = `dialogue-${id}`;
    view.node.setAttribute("aria-labelledby", `tab-${id}`);
    view.node.hidden = true;
    this.bar.append(tab);
    this.panels.append(view.node);
    this.open.set(id, { view, tab, unread: 0 });
    if (activate || this.active === null) this.activate(id);
    else this.changed();
  }

  /** Refresh a tab's label (the customer's name is known once the dialogue has loaded). */
  relabel(id) {
    const entry = this.open.get(id);
    if (entry) part(entry.tab, "tab-label").textContent = entry.view.customerName;
  }

  activate(id) {
    if (!this.open.has(id)) return;
    this.active = id;
    for (const [key, entry] of this.open) {
      const selected = key === id;
      const button = part(entry.tab, "tab-open");
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      entry.tab.classList.toggle("active", selected);
      entry.view.node.hidden = !selected;
    }
    this.open.get(id).view.shown?.();
    if (!document.hidden) this.setUnread(id, 0, false);
    this.changed();
  }

  close(id) {
    const entry = this.open.get(id);
    if (!entry) return;
    entry.tab.remove();
    entry.view.node.remove();
    this.open.delete(id);
    if (this.active === id) {
      this.active = null;
      const next = [...this.open.keys()].at(-1);
      if (next !== undefined) this.activate(next);
    }
    this.changed();
  }

  /** A new customer message in dialogue ``id``. */
  noteMessage(id) {
    const entry = this.open.get(id);
    if (!entry) return;
    if (document.hidden || this.active !== id) this.setUnread(id, entry.unread + 1);
  }

  setUnread(id, count, notify = true) {
    const entry = this.open.get(id);
    if (!entry) return;
    entry.unread = count;
    const badge = part(entry.tab, "unread");
    badge.textContent = String(count);
    badge.hidden = count === 0;
    if (notify) this.changed();
  }

  unread(id) {
    return this.open.get(id)?.unread ?? 0;
  }

  totalUnread() {
    let total = 0;
    for (const entry of this.open.values()) total += entry.unread;
    return total;
  }

  changed() {
    sessionStorage.setItem(STORE_KEY, JSON.stringify({ open: [...this.open.keys()], active: this.active }));
    this.onChange();
  }

  /** The tabs open before a reload in this browser tab: { open: [ids], active }. */
  static saved() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE_KEY) ?? "null");
      if (saved && Array.isArray(saved.open)) return { open: saved.open.filter(Number.isInteger), active: saved.active };
    } catch {
      // a damaged entry: start with no tabs
    }
    return { open: [], active: null };
  }

  /** Arrow keys move between tabs (the WAI-ARIA tabs pattern). */
  keydown(event) {
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    const ids = [...this.open.keys()];
    const index = ids.indexOf(this.active);
    if (index < 0) return;
    const next = ids[(index + (event.key === "ArrowRight" ? 1 : -1) + ids.length) % ids.length];
    this.activate(next);
    part(this.open.get(next).tab, "tab-open").focus();
  }
}
