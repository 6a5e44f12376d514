// The operator workspace: wires the queue, the open dialogues, the live feed and the
// header together. Everything shown is loaded from the JSON API; the WebSocket only says
// when to reload or what to append.

import { ApiError, get, post, put, setCsrfToken } from "./api.js";
import { DialogueView } from "./dialogue.js";
import { el, part } from "./dom.js";
import { _ } from "./i18n.js";
import { LiveEvents } from "./events.js";
import { customerName, QueueView } from "./queue.js";
import { armOnFirstClick, beep, notify, setUnreadBadge } from "./notify.js";
import { SearchBox } from "./search.js";
import { Tabs } from "./tabs.js";

const SAFETY_REFRESH_MS = 30_000; // in case an event was lost: the queue is never stale for long

class Workspace {
  constructor(me) {
    this.me = me;
    this.operators = [];
    this.departments = [];
    this.toasts = document.querySelector('[data-testid="toasts"]');
    this.placeholder = document.querySelector('[data-testid="no-dialogue"]');
    this.queue = new QueueView(document.querySelector('[data-testid="queue"]'), {
      onTake: (ticket) => this.take(ticket),
      onOpen: (ticket) => this.openDialogue(ticket.conversation_id),
      onError: (error) => this.toast(error.detail ?? String(error), "error"),
    });
    this.tabs = new Tabs(
      document.querySelector('[data-testid="tabs"]'),
      document.querySelector('[data-testid="tab-panels"]'),
      { onChange: () => this.countsChanged() },
    );
    this.ctx = {
      me,
      operators: () => this.operators,
      departments: () => this.departments,
      toast: (text, kind) => this.toast(text, kind),
      take: (ticket) => this.take(ticket),
      changed: () => this.queue.refresh(),
      typing: (ticketId, active) => this.live?.send({ type: "typing", ticket_id: ticketId, active }),
      labelsChanged: () => this.queue.loadLabels().then(() => this.queue.refresh()),
    };
    this.search = new SearchBox(document.querySelector('[data-testid="search"]'), {
      onOpen: (id) => this.openDialogue(id),
      onError: (error) => this.toast(error.detail ?? String(error), "error"),
    });
    this.statusToggle = document.querySelector('[data-testid="status-toggle"]');
    this.connection = document.querySelector('[data-testid="connection"]');
  }

  async start() {
    this.showStatus(this.me.status);
    this.statusToggle.addEventListener("click", () => this.toggleStatus());
    armOnFirstClick();
    [this.departments, this.operators] = await Promise.all([get("/api/departments"), get("/api/operators")]);
    await this.queue.loadDepartments();
    await this.queue.loadLabels();
    await this.queue.refresh();
    const saved = Tabs.saved();
    for (const id of saved.open) await this.openDialogue(id, { activate: id === saved.active, quiet: true });
    this.live = new LiveEvents({
      onEvent: (event) => this.onEvent(event),
      onState: (state, reconnected) => this.onConnection(state, reconnected),
    });
    this.live.start();
    setInterval(() => this.queue.refresh(), SAFETY_REFRESH_MS);
    document.body.dataset.ready = "true";
  }

  // ---- events --------------------------------------------------------------------------
  onEvent(event) {
    if (event.kind === "ticket") this.onTicket(event);
    else if (event.kind === "message") this.onMessage(event);
    else if (event.kind === "operator") this.onOperator(event);
    else if (event.kind === "typing") this.tabs.view(event.conversation_id)?.showTyping(event.active);
  }

  async onTicket(event) {
    const id = event.conversation_id;
    const wasMine = this.queue.isMine(id);
    await this.queue.refresh();
    const view = this.tabs.view(id);
    if (view) {
      await view.reloadQuietly();
      this.tabs.relabel(id);
    }
    if (event.status === "queued" && !wasMine) this.announce(id);
  }

  /** A dialogue was handed off: a notification and a beep, so nobody waits unnoticed. */
  announce(conversationId) {
    const ticket = this.queue.ticketOf(conversationId);
    const name = ticket ? customerName(ticket) : _("Conversation #{id}", { id: conversationId });
    const body = ticket?.last_customer_message ?? "";
    beep();
    notify(_("{name} is waiting for an operator", { name }), body, `handoff-${conversationId}`, () =>
      this.openDialogue(conversationId),
    );
  }

  async onMessage(event) {
    const id = event.conversation_id;
    const view = this.tabs.view(id);
    if (view) {
      if (view.receive(event) && event.sender === "customer") this.tabs.noteMessage(id);
    } else if (event.sender === "customer" && this.queue.isMine(id)) {
      // A customer of mine wrote while their dialogue is not open: open it in the background.
      await this.openDialogue(id, { activate: false });
      this.tabs.noteMessage(id);
    }
    if (event.sender === "customer" && this.queue.ticketOf(id)) this.queue.refresh();
  }

  onOperator(event) {
    const operator = this.operators.find((o) => o.id === event.operator_id);
    if (operator) operator.status = event.status;
    if (event.operator_id === this.me.id) {
      this.me.status = event.status;
      this.showStatus(event.status);
    }
  }

  onConnection(state, reconnected) {
    const labels = { connecting: _("Connecting…"), live: _("Live"), offline: _("Offline — reconnecting…") };
    this.connection.textContent = labels[state] ?? state;
    this.connection.dataset.state = state;
    if (state === "live" && reconnected) {
      // Whatever happened while the connection was down was not pushed: reload it.
      this.queue.refresh();
      for (const view of this.tabs.views()) view.reloadQuietly();
    }
  }

  // ---- actions -------------------------------------------------------------------------
  async take(ticket) {
    try {
      await post(`/api/tickets/${ticket.ticket_id}/claim`);
    } catch (error) {
      this.toast(error.detail ?? String(error), "error");
      await this.queue.refresh();
      return false;
    }
    await this.queue.refresh();
    await this.openDialogue(ticket.conversation_id);
    this.tabs.view(ticket.conversation_id)?.node.querySelector('[data-testid="reply-input"]')?.focus();
    return true;
  }

  async openDialogue(conversationId, { activate = true, quiet = false } = {}) {
    if (this.tabs.has(conversationId)) {
      if (activate) this.tabs.activate(conversationId);
      return;
    }
    const view = new DialogueView(conversationId, this.ctx);
    try {
      await view.load();
    } catch (error) {
      if (!quiet || !(error instanceof ApiError) || error.status !== 404) {
        this.toast(_("Dialogue {id} cannot be opened: {problem}", { id: conversationId, problem: error.detail ?? error }), "error");
      }
      return;
    }
    if (this.tabs.has(conversationId)) return; // opened meanwhile by another event
    this.tabs.add(conversationId, view, { activate });
  }

  async toggleStatus() {
    const next = this.me.status === "online" ? "away" : "online";
    this.statusToggle.disabled = true;
    try {
      const me = await put("/api/me/status", { status: next });
      this.me.status = me.status;
      this.showStatus(me.status);
    } catch (error) {
      this.toast(error.detail ?? String(error), "error");
    } finally {
      this.statusToggle.disabled = false;
    }
  }

  showStatus(status) {
    const online = status === "online";
    this.statusToggle.setAttribute("aria-checked", String(online));
    this.statusToggle.dataset.status = online ? "online" : "away";
    part(this.statusToggle, "status-label").textContent = online ? _("Online") : _("Away");
  }

  countsChanged() {
    setUnreadBadge(this.tabs.totalUnread());
    for (const ticket of this.queue.mine) {
      this.queue.setUnread(ticket.conversation_id, this.tabs.unread(ticket.conversation_id));
    }
    this.placeholder.hidden = this.tabs.active !== null;
  }

  toast(text, kind = "info") {
    const close = el("button", { type: "button", class: "toast-close", "aria-label": _("Dismiss"), text: "×" });
    const node = el(
      "div",
      { class: `toast ${kind}`, testid: "toast", role: kind === "error" ? "alert" : "status" },
      el("span", { text }),
      close,
    );
    close.addEventListener("click", () => node.remove());
    this.toasts.append(node);
    setTimeout(() => node.remove(), kind === "error" ? 10_000 : 5_000);
  }
}

async function main() {
  try {
    const me = await get("/api/me");
    setCsrfToken(me.csrf_token);
    await new Workspace(me).start();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // on the way to the login form
    document.querySelector('[data-testid="toasts"]').append(
      el("div", {
        class: "toast error",
        role: "alert",
        testid: "toast",
        text: _("The panel cannot start: {problem}. Reload the page to try again.", { problem: error.detail ?? error }),
      }),
    );
  }
}

main();
