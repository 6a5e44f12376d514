// The queue: who is waiting (highest priority, then longest wait, first) and the dialogues
// this operator holds. Reloaded from GET /api/queue on every ticket event; waiting times
// tick up locally between reloads.

import { get } from "./api.js";
import { el, part } from "./dom.js";
import { channelLabel, duration, intentLabel, percent, reasonLabel } from "./format.js";
import { _ } from "./i18n.js";
import { LabelFilter, labelTags } from "./labels.js";

const DEPARTMENT_KEY = "botdesk.panel.department";

export class QueueView {
  /**
   * root: the queue's <aside>; onTake(ticket): claim it; onOpen(ticket): show the dialogue;
   * onError(error): tell the operator.
   */
  constructor(root, { onTake, onOpen, onError }) {
    this.root = root;
    this.onTake = onTake;
    this.onOpen = onOpen;
    this.onError = onError;
    this.waiting = [];
    this.mine = [];
    this.loadedAt = performance.now();
    this.loading = null;
    this.again = false;
    this.unread = new Map(); // conversation id -> unread count, shown on "my dialogues"
    this.filter = part(root, "department-filter");
    this.filter.addEventListener("change", () => {
      localStorage.setItem(DEPARTMENT_KEY, this.filter.value);
      this.refresh();
    });
    this.labels = new LabelFilter(part(root, "label-filter"), { onChange: () => this.refresh() });
    setInterval(() => this.tick(), 1000);
  }

  /** The label filter's choices: the labels in use (after a label is added, too). */
  async loadLabels() {
    await this.labels.load();
  }

  async loadDepartments() {
    const departments = await get("/api/departments");
    const saved = localStorage.getItem(DEPARTMENT_KEY) ?? "";
    this.filter.replaceChildren(el("option", { value: "", text: _("All departments") }));
    for (const department of departments) {
      this.filter.append(el("option", { value: department.key, text: department.name }));
    }
    this.filter.value = departments.some((d) => d.key === saved) ? saved : "";
  }

  /** Reload the queue; calls while one is running coalesce into one more reload. */
  refresh() {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        do {
          this.again = false;
          const params = new URLSearchParams();
          if (this.filter.value) params.set("department", this.filter.value);
          if (this.labels.value) params.set("label", this.labels.value);
          const query = params.toString() ? `?${params}` : "";
          const queue = await get(`/api/queue${query}`);
          this.waiting = queue.waiting ?? [];
          this.mine = queue.mine ?? [];
          this.loadedAt = performance.now();
          this.render();
        } while (this.again);
      } catch (error) {
        this.onError(error);
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** The ticket (waiting or mine) of a conversation, if the queue shows it. */
  ticketOf(conversationId) {
    return [...this.waiting, ...this.mine].find((t) => t.conversation_id === conversationId) ?? null;
  }

  isMine(conversationId) {
    return this.mine.some((t) => t.conversation_id === conversationId);
  }

  setUnread(conversationId, count) {
    this.unread.set(conversationId, count);
    const badge = this.root.querySelector(
      `[data-testid="mine-item"][data-conversation-id="${Number(conversationId)}"] [data-testid="unread"]`,
    );
    if (badge) {
      badge.textContent = String(count);
      badge.hidden = count === 0;
    }
  }

  render() {
    const waitingList = part(this.root, "waiting-list");
    waitingList.replaceChildren(...this.waiting.map((ticket) => this.waitingItem(ticket)));
    part(this.root, "waiting-count").textContent = String(this.waiting.length);
    part(this.root, "waiting-empty").hidden = this.waiting.length > 0;
    const mineList = part(this.root, "mine-list");
    mineList.replaceChildren(...this.mine.map((ticket) => this.mineItem(ticket)));
    part(this.root, "mine-count").textContent = String(this.mine.length);
    part(this.root, "mine-empty").hidden = this.mine.length > 0;
  }

  waitingItem(ticket) {
    const take = el("button", { type: "button", class: "primary small", testid: "take", text: _("Take") });
    take.addEventListener("click", async (event) => {
      event.stopPropagation();
      take.disabled = true;
      try {
        await this.onTake(ticket);
      } finally {
        take.disabled = false;
      }
    });
    const view = el("button", { type: "button", class: "link small", testid: "view", text: _("View") });
    view.addEventListener("click", () => this.onOpen(ticket));
    const intent = ticket.intent ? `${intentLabel(ticket.intent)} ${percent(ticket.confidence)}`.trim() : "";
    return el(
      "li",
      {
        class: `ticket priority-${ticket.priority > 0 ? "high" : "normal"}`,
        testid: "queue-item",
        dataset: { ticketId: ticket.ticket_id, conversationId: ticket.conversation_id },
      },
      el(
        "div",
        { class: "ticket-head" },
        el("span", { class: "customer", testid: "queue-customer", text: customerName(ticket) }),
        el("span", {
          class: "waiting",
          testid: "waiting-time",
          title: _("Waiting time"),
          dataset: { seconds: ticket.waiting_seconds },
          text: duration(ticket.waiting_seconds),
        }),
      ),
      el(
        "div",
        { class: "ticket-tags" },
        el("span", { class: `tag reason reason-${ticket.reason}`, testid: "queue-reason", text: reasonLabel(ticket.reason) }),
        ticket.priority > 0 && el("span", { class: "tag priority", text: _("priority {n}", { n: ticket.priority }) }),
        el("span", { class: "tag channel", testid: "queue-channel", text: channelLabel(ticket.channel) }),
        ticket.department && el("span", { class: "tag", text: ticket.department.name }),
        intent && el("span", { class: "tag intent", testid: "queue-intent", title: _("The NLU's best guess"), text: intent }),
        ...labelTags(ticket.labels),
      ),
      el("p", { class: "last-message", testid: "queue-last-message", text: ticket.last_customer_message ?? "" }),
      el("div", { class: "ticket-actions" }, view, take),
    );
  }

  mineItem(ticket) {
    const count = this.unread.get(ticket.conversation_id) ?? 0;
    const open = el(
      "button",
      { type: "button", class: "mine-open", testid: "open-mine" },
      el("span", { class: "customer", text: customerName(ticket) }),
      el("span", { class: "tag channel", text: channelLabel(ticket.channel) }),
      ...labelTags(ticket.labels),
      el("span", { class: "badge", testid: "unread", hidden: count === 0, text: String(count) }),
    );
    open.addEventListener("click", () => this.onOpen(ticket));
    return el(
      "li",
      { class: "ticket mine", testid: "mine-item", dataset: { ticketId: ticket.ticket_id, conversationId: ticket.conversation_id } },
      open,
      el("p", { class: "last-message", text: ticket.last_customer_message ?? "" }),
    );
  }

  /** Waiting times go up every second without asking the server. */
  tick() {
    const elapsed = (performance.now() - this.loadedAt) / 1000;
    for (const node of this.root.querySelectorAll('[data-testid="waiting-time"]')) {
      node.textContent = duration(Number(node.dataset.seconds) + elapsed);
    }
  }
}

export function customerName(ticket) {
  return ticket.customer_name || _("Customer #{id}", { id: ticket.customer_id });
}
