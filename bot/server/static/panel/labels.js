// Labels on dialogues ("возврат", "vip"): the dialogue's label card, the queue's label filter
// and the labels shown on queue items. Labels are the server's normal form (lower case);
// every label is text, never markup.

import { del, get, post } from "./api.js";
import { el, part } from "./dom.js";
import { _ } from "./i18n.js";

const FILTER_KEY = "botdesk.panel.label";

/** Small tags for a queue item or a search result. */
export function labelTags(labels) {
  return (labels ?? []).map((label) => el("span", { class: "tag label", testid: "label-tag", text: label }));
}

/** The labels in use, offered as the label input's suggestions (<datalist id="known-labels">). */
export async function loadKnownLabels() {
  const list = document.getElementById("known-labels");
  if (!list) return [];
  const labels = await get("/api/labels");
  list.replaceChildren(...labels.map(({ label }) => el("option", { value: label })));
  return labels;
}

export class LabelCard {
  /** root: the dialogue's labels card; toast(text, kind); changed(): a label was added or removed. */
  constructor(root, { conversationId, toast, changed }) {
    this.root = root;
    this.id = conversationId;
    this.toast = toast;
    this.changed = changed;
    this.list = part(root, "label-list");
    this.input = part(root, "label-input");
    part(root, "label-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.add(this.input.value);
    });
  }

  render(labels) {
    this.list.replaceChildren(
      ...(labels ?? []).map((label) => {
        const remove = el("button", {
          type: "button",
          class: "label-remove",
          testid: "label-remove",
          "aria-label": _("Remove the label {label}", { label }),
          text: "×",
        });
        remove.addEventListener("click", () => this.remove(label));
        return el("li", { class: "tag label", testid: "label-chip", dataset: { label } }, el("span", { text: label }), remove);
      }),
    );
    part(this.root, "label-empty").hidden = (labels ?? []).length > 0;
  }

  async add(text) {
    if (!text.trim()) return;
    try {
      const answer = await post(`/api/conversations/${this.id}/labels`, { label: text });
      this.input.value = "";
      this.render(answer.labels);
      this.changed();
      loadKnownLabels().catch(() => {});
    } catch (error) {
      this.toast(error.detail ?? String(error), "error");
    }
  }

  async remove(label) {
    try {
      const answer = await del(`/api/conversations/${this.id}/labels/${encodeURIComponent(label)}`);
      this.render(answer.labels);
      this.changed();
    } catch (error) {
      this.toast(error.detail ?? String(error), "error");
    }
  }
}

export class LabelFilter {
  /** select: the queue's label filter; onChange(): reload the queue. The choice is remembered. */
  constructor(select, { onChange }) {
    this.select = select;
    select.addEventListener("change", () => {
      localStorage.setItem(FILTER_KEY, select.value);
      onChange();
    });
  }

  get value() {
    return this.select.value;
  }

  async load() {
    const labels = await loadKnownLabels();
    const saved = localStorage.getItem(FILTER_KEY) ?? "";
    const current = this.select.value || saved;
    this.select.replaceChildren(
      el("option", { value: "", text: _("All labels") }),
      ...labels.map(({ label, count }) => el("option", { value: label, text: `${label} (${count})` })),
    );
    this.select.value = labels.some((l) => l.label === current) ? current : "";
  }
}
