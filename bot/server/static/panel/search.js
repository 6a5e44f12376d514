// The search box: conversations by a customer's name, phone or e-mail, words of any message,
// an order number (GET /api/search). Results open the conversation; every text is shown as text.

import { get } from "./api.js";
import { el, part } from "./dom.js";
import { channelLabel, when } from "./format.js";
import { _ } from "./i18n.js";
import { labelTags } from "./labels.js";

const DEBOUNCE_MS = 300;

export class SearchBox {
  /** root: the search section; onOpen(conversationId); onError(error). */
  constructor(root, { onOpen, onError }) {
    this.root = root;
    this.onOpen = onOpen;
    this.onError = onError;
    this.input = part(root, "search-input");
    this.results = part(root, "search-results");
    this.timer = null;
    this.asked = 0;
    part(root, "search-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.run();
    });
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.run(), DEBOUNCE_MS);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.clear();
    });
  }

  clear() {
    this.input.value = "";
    this.show(null);
  }

  async run() {
    const query = this.input.value.trim();
    if (query.length < 2) {
      this.show(null);
      return;
    }
    const asked = ++this.asked;
    try {
      const found = await get(`/api/search?q=${encodeURIComponent(query)}`);
      if (asked === this.asked) this.show(found); // an older answer never replaces a newer one
    } catch (error) {
      this.onError(error);
    }
  }

  show(found) {
    this.root.dataset.state = found === null ? "idle" : found.length ? "found" : "none";
    if (found === null) {
      this.results.replaceChildren();
      this.results.hidden = true;
      return;
    }
    this.results.hidden = false;
    if (!found.length) {
      this.results.replaceChildren(el("li", { class: "empty", testid: "search-empty", text: _("Nothing found.") }));
      return;
    }
    this.results.replaceChildren(...found.map((item) => this.item(item)));
  }

  item(found) {
    const name = found.customer_name || _("Customer #{id}", { id: found.customer_id });
    const open = el(
      "button",
      { type: "button", class: "search-open", testid: "search-result", dataset: { conversationId: found.conversation_id } },
      el(
        "span",
        { class: "ticket-head" },
        el("span", { class: "customer", text: name }),
        el("time", { datetime: found.updated_at, class: "muted small", text: when(found.updated_at) }),
      ),
      el("span", { class: "ticket-tags" }, el("span", { class: "tag channel", text: channelLabel(found.channel) }), ...labelTags(found.labels)),
      el("span", { class: "last-message", testid: "search-snippet", text: found.snippet }),
    );
    open.addEventListener("click", () => this.onOpen(found.conversation_id));
    return el("li", {}, open);
  }
}
