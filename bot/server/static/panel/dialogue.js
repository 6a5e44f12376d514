// One open dialogue: the handoff note, the customer's whole history across channels, the
// reply box, and the side cards. Loaded from GET /api/conversations/{id}; live messages
// are appended as they arrive (deduplicated by message id).

import { post, get } from "./api.js";
import { el, fromTemplate, part, setText } from "./dom.js";
import { LeadForm, fillTransferTargets, noteItem, renderCustomer, renderNote, transferBody } from "./cards.js";
import { channelLabel, intentLabel, percent, reasonLabel, senderLabel, when } from "./format.js";
import { _, gendered, nameOf } from "./i18n.js";
import { LabelCard } from "./labels.js";
import { ReplyBox } from "./reply.js";
import { AttachBox, isStoredFile, storedFileNode } from "./files.js";

const TYPING_EVERY_MS = 2000; // the operator's "typing" goes to the customer at most this often
const TYPING_SHOWN_MS = 6000; // the customer's "typing…" fades without a fresh signal

export class DialogueView {
  /**
   * ctx: { me, operators(), departments(), toast(text, kind), take(ticket) -> Promise<bool>,
   *        changed() (the ticket changed: reload the queue) }
   */
  constructor(conversationId, ctx) {
    this.id = conversationId;
    this.ctx = ctx;
    this.data = null;
    this.seen = new Set();
    this.lastConversationId = null;
    this.node = fromTemplate("tpl-dialogue");
    this.node.dataset.conversationId = conversationId;
    this.history = part(this.node, "history");
    this.reply = new ReplyBox(part(this.node, "reply-form"), { onSend: (text) => this.send(text) });
    this.lead = new LeadForm(part(this.node, "lead-form"), { conversationId, toast: ctx.toast });
    this.attach = new AttachBox(this.node, {
      ticket: () => (this.heldByMe() ? this.ticket : null),
      onSent: (message) => this.appendMessage(message),
      toast: ctx.toast,
    });
    this.labels = new LabelCard(part(this.node, "labels-card"), {
      conversationId,
      toast: ctx.toast,
      changed: () => ctx.labelsChanged?.(),
    });
    this.wire();
  }

  get ticket() {
    return this.data?.ticket ?? null;
  }

  get customerName() {
    const customer = this.data?.customer;
    return (
      customer?.display_name ||
      (customer ? _("Customer #{id}", { id: customer.id }) : _("Conversation #{id}", { id: this.id }))
    );
  }

  heldByMe() {
    const ticket = this.ticket;
    return Boolean(ticket && ticket.status === "claimed" && ticket.operator_id === this.ctx.me.id);
  }

  wire() {
    const node = this.node;
    part(node, "dialogue-take").addEventListener("click", async () => {
      if (this.ticket && (await this.ctx.take({ ticket_id: this.ticket.id, conversation_id: this.id }))) {
        await this.load();
      }
    });
    part(node, "note-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.addNote();
    });
    part(node, "transfer-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const choice = part(node, "transfer-target").value;
      if (!choice) {
        this.ctx.toast(_("Choose an operator or a department to transfer to."), "error");
        return;
      }
      this.act("transfer", transferBody(choice), _("Transferred."));
    });
    part(node, "release").addEventListener("click", () => this.act("release", {}, _("Put back in the queue.")));
    part(node, "return-to-bot").addEventListener("click", () =>
      this.act("return", {}, _("Returned to the bot; it asks the customer whether the question is solved.")),
    );
    part(node, "close-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const resolution = part(node, "resolution").value.trim();
      this.act("close", resolution ? { resolution } : {}, _("Dialogue closed.")); // empty: "resolved"
    });
    this.wireTyping();
  }

  // ---- typing, both ways -----------------------------------------------------------------
  /** The operator types a reply: the customer sees "typing…" (a signal at most every 2 s, and one at the end). */
  wireTyping() {
    const input = part(this.node, "reply-input");
    this.typedAt = 0;
    input.addEventListener("input", () => {
      if (!this.heldByMe() || !this.ctx.typing) return;
      const typing = input.value.trim() !== "";
      const now = Date.now();
      if (typing && now - this.typedAt < TYPING_EVERY_MS) return;
      if (!typing && !this.typedAt) return;
      this.typedAt = typing ? now : 0;
      this.ctx.typing(this.ticket.id, typing);
    });
  }

  /** The customer types (a live event): "The customer is typing…" under the history for a few seconds. */
  showTyping(active) {
    const line = part(this.node, "customer-typing");
    clearTimeout(this.typingTimer);
    setText(line, active ? _("The customer is typing…") : "");
    if (active) this.typingTimer = setTimeout(() => setText(line, ""), TYPING_SHOWN_MS);
  }

  async load() {
    this.data = await get(`/api/conversations/${this.id}`);
    this.render();
  }

  render() {
    const { conversation, customer, ticket } = this.data;
    const node = this.node;
    setText(part(node, "dialogue-title"), this.customerName);
    setText(
      part(node, "dialogue-meta"),
      _("{channel} · conversation #{id} · since {when}", {
        channel: channelLabel(conversation.channel),
        id: conversation.id,
        when: when(conversation.started_at),
      }),
    );
    this.renderState();
    renderNote(part(node, "handoff-note"), ticket);
    renderCustomer(part(node, "customer-card"), customer, (match, action) => this.resolveMatch(match, action));
    this.labels.render(conversation.labels);
    this.renderHistory(this.data.history ?? []);
    part(node, "note-list").replaceChildren(...(this.data.notes ?? []).map(noteItem));
    this.reply.setPhrases(this.data.quick_phrases);
    this.reply.setSuggestions(this.data.suggestions);
    fillTransferTargets(part(node, "transfer-target"), this.ctx.operators(), this.ctx.departments(), this.ctx.me.id);
    this.lead.prefill(this.data.lead_prefill);
  }

  /** Who holds the dialogue, and so what this operator can do with it. */
  renderState() {
    const ticket = this.ticket;
    const mine = this.heldByMe();
    const state = part(this.node, "dialogue-state");
    let text;
    let kind = ticket?.status ?? "none";
    if (!ticket) text = _("No handoff: the bot is answering.");
    else if (ticket.status === "queued") text = _("Waiting in the queue ({reason}). Take it to reply.", { reason: reasonLabel(ticket.reason) });
    else if (mine) text = _("You are answering this dialogue.");
    else if (ticket.status === "claimed") {
      const holder = this.ctx.operators().find((o) => o.id === ticket.operator_id);
      text = holder
        ? gendered(holder.grammatical_gender, "{name} has taken this dialogue and is answering it.", {
            name: holder.display_name,
          })
        : _("Another operator is answering this dialogue.");
      kind = "other";
    } else if (ticket.status === "returned") text = _("Returned to the bot.");
    else text = _("Closed.");
    state.textContent = text;
    state.dataset.state = mine ? "mine" : kind;
    this.node.dataset.state = mine ? "mine" : kind;
    part(this.node, "dialogue-take").hidden = ticket?.status !== "queued";
    this.reply.setEnabled(mine);
    setText(part(this.node, "reply-locked"), mine ? "" : _("Replying is possible while you hold the dialogue."));
    for (const control of part(this.node, "ticket-actions").querySelectorAll("button, select, input")) {
      control.disabled = !mine;
    }
  }

  renderHistory(messages) {
    this.seen.clear();
    this.lastConversationId = null;
    this.history.replaceChildren();
    for (const message of messages) this.appendMessage(message, false);
    this.scrollToEnd(true);
  }

  /** Add one message unless it is already shown; returns whether it was new. */
  appendMessage(message, scroll = true) {
    if (message.id != null && this.seen.has(message.id)) return false;
    if (message.id != null) this.seen.add(message.id);
    const nearEnd = this.history.scrollHeight - this.history.scrollTop - this.history.clientHeight < 80;
    if (message.conversation_id !== this.lastConversationId) {
      this.history.append(
        el(
          "li",
          { class: "divider", role: "separator" },
          _("Conversation #{id} · {channel}", { id: message.conversation_id, channel: channelLabel(message.channel) }),
        ),
      );
      this.lastConversationId = message.conversation_id;
    }
    this.history.append(messageItem(message, this.id));
    if (scroll) this.scrollToEnd(nearEnd);
    return true;
  }

  /** A live message event for this conversation; returns whether it was new. */
  receive(event) {
    if (event.sender === "customer") {
      this.refreshSuggestions();
      this.showTyping(false);
    }
    return this.appendMessage({
      id: event.message_id,
      conversation_id: event.conversation_id,
      channel: event.channel ?? this.data?.conversation?.channel,
      sender: event.sender,
      sender_name: event.sender_name,
      text: event.text ?? "",
      created_at: event.at,
      intent: event.intent,
      confidence: event.confidence,
      attachments: event.attachments ?? [],
    });
  }

  /** The suggested answers follow the customer's latest message. */
  async refreshSuggestions() {
    try {
      const data = await get(`/api/conversations/${this.id}`);
      this.reply.setSuggestions(data.suggestions);
    } catch {
      // the next reload shows them; nothing to tell the operator
    }
  }

  /** The tab became visible: a dialogue opened in the background starts at its latest message. */
  shown() {
    if (!this.shownBefore) this.scrollToEnd(true);
    this.shownBefore = true;
  }

  scrollToEnd(force) {
    if (force) this.history.scrollTop = this.history.scrollHeight;
  }

  async send(text) {
    try {
      const message = await post(`/api/tickets/${this.ticket.id}/reply`, { text });
      this.typedAt = 0; // the reply itself ends "typing…" on the customer's side
      this.appendMessage(message);
      return true;
    } catch (error) {
      this.ctx.toast(error.detail ?? String(error), "error");
      if (error.status === 409) await this.reloadQuietly();
      return false;
    }
  }

  async act(action, body, done) {
    const ticket = this.ticket;
    if (!ticket) return;
    try {
      await post(`/api/tickets/${ticket.id}/${action}`, body);
      this.ctx.toast(done, "ok");
    } catch (error) {
      this.ctx.toast(error.detail ?? String(error), "error");
    }
    await this.reloadQuietly();
    this.ctx.changed();
  }

  /** Merge a suggested customer into this one (or dismiss it), then show the result. */
  async resolveMatch(match, action) {
    const name = match.display_name || _("Customer #{id}", { id: match.customer_id });
    if (action === "merge" && !window.confirm(_("Merge with {name}? Both histories become one customer's.", { name }))) return;
    try {
      await post(`/api/customer-matches/${match.match_id}/${action}`, {});
      this.ctx.toast(action === "merge" ? _("Merged with {name}.", { name }) : _("Marked as a different person."), "ok");
    } catch (error) {
      this.ctx.toast(error.detail ?? String(error), "error");
    }
    await this.reloadQuietly();
  }

  async addNote() {
    const input = part(this.node, "note-input");
    const text = input.value.trim();
    if (!text) return;
    try {
      const note = await post(`/api/conversations/${this.id}/notes`, { text });
      part(this.node, "note-list").append(noteItem(note));
      input.value = "";
    } catch (error) {
      this.ctx.toast(error.detail ?? String(error), "error");
    }
  }

  /** Reload after a change; a failure is told, not thrown. */
  async reloadQuietly() {
    try {
      await this.load();
    } catch (error) {
      this.ctx.toast(error.detail ?? String(error), "error");
    }
  }
}

function messageItem(message, currentConversationId) {
  const sender = message.sender;
  // Operators are named; the bot keeps its label and a visible "bot" mark (CSS), never a person's name.
  let label = senderLabel(sender);
  if (sender === "operator" && message.sender_name) label = _("{name} (operator)", { name: message.sender_name });
  else if ((sender === "customer" || sender === "bot") && message.sender_name) label = message.sender_name;
  const intent =
    sender === "customer" && message.intent
      ? el("span", {
          class: "intent",
          testid: "message-intent",
          title: _("What the NLU understood, and how sure it was"),
          text: `${intentLabel(message.intent)} · ${percent(message.confidence) || "?"}`,
        })
      : null;
  const attachments = (message.attachments ?? []).map((item) => attachmentNode(item));
  return el(
    "li",
    {
      class: `message from-${sender}${message.conversation_id === currentConversationId ? "" : " earlier"}`,
      testid: "message",
      dataset: { sender, messageId: message.id ?? "" },
    },
    el(
      "div",
      { class: "message-meta" },
      el("span", { class: "sender", testid: "message-sender", text: label }),
      el("span", { class: "tag channel", text: channelLabel(message.channel) }),
      el("time", { datetime: message.created_at ?? "", text: when(message.created_at) }),
      intent,
    ),
    el("p", { class: "message-text", testid: "message-text", text: message.text ?? "" }),
    attachments.length ? el("ul", { class: "attachments" }, attachments) : null,
  );
}

/**
 * An attachment: a pressed button by its title; a file as a link when it has a web address
 * or a path to this server's file proxy (Telegram photos, documents, voice), by its name otherwise.
 */
function attachmentNode(item) {
  if (isStoredFile(item)) return storedFileNode(item); // files.js: a picture or a download
  if (item && typeof item === "object" && item.kind === "button") {
    return el("li", { class: "pressed", testid: "pressed-button", text: _("pressed “{title}”", { title: item.title ?? "" }) });
  }
  const described = item && typeof item === "object"
    ? [item.type && nameOf("attachments", item.type), item.file_name ?? item.name ?? item.filename, item.caption]
        .filter(Boolean)
        .join(" · ")
    : "";
  const name = typeof item === "string" ? item : described || _("attachment");
  const url = typeof item === "object" && item ? String(item.url ?? "") : "";
  if (/^https?:\/\//i.test(url) || /^\/api\/files\/[\w-]+\/[\w.-]+$/.test(url)) {
    const link = { href: url, target: "_blank", rel: "noopener noreferrer", testid: "attachment-link", text: name };
    return el("li", {}, el("a", link));
  }
  return el("li", { text: name });
}
