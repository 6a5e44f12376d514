// The side cards of a dialogue: the handoff note, the customer, private notes, the
// ticket's actions (transfer, return to the bot, close) and the lead card form.

import { post } from "./api.js";
import { el, part, setText } from "./dom.js";
import { channelLabel, intentLabel, percent, reasonLabel, slotLabel, slotValue, statusLabel, when } from "./format.js";
import { _ } from "./i18n.js";

/** The bot's note for the operator: why it handed off and what it knew by then. */
export function renderNote(root, ticket) {
  const note = ticket?.note ?? null;
  root.hidden = !ticket;
  if (!ticket) return;
  const field = (name) => root.querySelector(`[data-field="${name}"]`);
  const reason = reasonLabel(note?.reason ?? ticket.reason);
  setText(field("reason"), reason);
  field("reason-summary").textContent = reason;
  setText(field("detail"), note?.detail ?? "");
  field("detail").previousElementSibling.hidden = !note?.detail;
  const intent = note?.intent ? `${intentLabel(note.intent)} (${percent(note.confidence) || "?"})` : "—";
  setText(field("intent"), intent);
  const slots = Object.entries(note?.slots ?? {});
  field("slots").replaceChildren(
    ...(slots.length
      ? slots.map(([name, value]) => el("span", { class: "slot" }, el("b", { text: slotLabel(name) }), ` ${slotValue(value)}`))
      : ["—"]),
  );
  const summary = note?.summary ?? [];
  const list = field("summary");
  list.replaceChildren(...summary.map((text) => el("li", { text })));
  list.parentElement.hidden = summary.length === 0;
  field("after-hours").hidden = !note?.after_hours;
}

/** A typed contact is marked as such: only a channel-verified one is known to be the customer's. */
function contactText(value, verified) {
  if (!value) return "";
  return verified ? value : _("{contact} (typed, not verified)", { contact: value });
}

/**
 * The customer card. ``onMatch(match, action)``: the operator pressed Merge or "Not the same"
 * on a suggestion ("possibly the same customer as ..."), action "merge" or "dismiss".
 */
export function renderCustomer(root, customer, onMatch) {
  setText(part(root, "customer-name"), customer?.display_name || _("Customer #{id}", { id: customer?.id ?? "?" }));
  setText(part(root, "customer-phone"), contactText(customer?.phone, customer?.phone_verified));
  setText(part(root, "customer-email"), contactText(customer?.email, customer?.email_verified));
  part(root, "customer-channels").replaceChildren(
    ...(customer?.channels ?? []).map((channel) =>
      el(
        "li",
        { class: channel.reachable ? "" : "unreachable" },
        el("span", { class: "tag channel", text: channelLabel(channel.channel) }),
        ` ${channel.external_id}`,
        channel.reachable ? "" : el("span", { class: "muted", text: " " + _("(unreachable)") }),
      ),
    ),
  );
  const matches = customer?.possible_matches ?? [];
  part(root, "customer-matches").hidden = matches.length === 0;
  part(root, "customer-match-list").replaceChildren(
    ...matches.map((match) =>
      el(
        "li",
        { testid: "customer-match", dataset: { matchId: String(match.match_id) } },
        el("b", { text: match.display_name || _("Customer #{id}", { id: match.customer_id }) }),
        ` · ${match.reason === "email" ? _("same e-mail") : _("same phone")} · `,
        (match.channels ?? []).map((channel) => el("span", { class: "tag channel", text: channelLabel(channel) })),
        " · " + _("since {when}", { when: when(match.since) }) + " ",
        el("button", {
          type: "button",
          testid: "customer-merge",
          text: _("Merge"),
          title: _("One person: join the two records (both histories, recorded with your login)"),
          onclick: () => onMatch?.(match, "merge"),
        }),
        el("button", {
          type: "button",
          class: "link",
          testid: "customer-not-same",
          text: _("Not the same"),
          onclick: () => onMatch?.(match, "dismiss"),
        }),
      ),
    ),
  );
}

export function noteItem(note) {
  return el(
    "li",
    { class: "private-note", testid: "note" },
    el("div", { class: "note-meta" }, el("b", { text: note.author ?? "" }), " · ", when(note.created_at)),
    el("p", { text: note.text }),
  );
}

/** The "Transfer to" choices: other operators (with their status), then departments. */
export function fillTransferTargets(select, operators, departments, myId) {
  const others = operators.filter((o) => o.id !== myId && o.can_work);
  select.replaceChildren(
    el("option", { value: "", text: _("Transfer to…") }),
    el(
      "optgroup",
      { label: _("Operators") },
      others.map((o) =>
        el("option", { value: `operator:${o.id}`, text: `${o.display_name} (${statusLabel(o.status ?? "away")})` }),
      ),
    ),
    el(
      "optgroup",
      { label: _("Departments") },
      departments.map((d) => el("option", { value: `department:${d.key}`, text: d.name })),
    ),
  );
}

/** The transfer request body for a "kind:value" choice. */
export function transferBody(choice) {
  const [kind, value] = choice.split(/:(.*)/s);
  return kind === "operator" ? { operator_id: Number(value) } : { department: value };
}

/** The lead card form, prefilled from what the bot collected; POSTs to the leads endpoint. */
export class LeadForm {
  constructor(form, { conversationId, toast }) {
    this.form = form;
    this.conversationId = conversationId;
    this.toast = toast;
    this.touched = false;
    form.addEventListener("input", () => {
      this.touched = true;
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  /** Fill in what the bot knows, unless the operator has started typing. */
  prefill(prefill) {
    if (this.touched || !prefill) return;
    const fields = this.form.elements;
    fields.name.value = prefill.name ?? "";
    fields.phone.value = prefill.phone ?? "";
    fields.email.value = prefill.email ?? "";
    const interest = prefill.interest ?? [];
    fields.interest.value = Array.isArray(interest) ? interest.join(", ") : String(interest);
  }

  async submit() {
    const fields = this.form.elements;
    const result = part(this.form, "lead-result");
    const body = {
      name: fields.name.value.trim(),
      phone: fields.phone.value.trim(),
      email: fields.email.value.trim() || null,
      interest: fields.interest.value
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean),
      consent: fields.consent.checked,
    };
    if (!body.consent) {
      result.className = "form-result error";
      setText(result, _("The customer's consent is required before a lead card is saved."));
      fields.consent.focus();
      return;
    }
    const button = this.form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      const lead = await post(`/api/conversations/${this.conversationId}/leads`, body);
      result.className = "form-result ok";
      setText(
        result,
        lead?.delivery === "crm"
          ? _("Lead card #{id} saved; it goes to the CRM.", { id: lead?.id ?? "?" })
          : _("Lead card #{id} saved. No CRM is connected: it waits in botdesk until one is.", { id: lead?.id ?? "?" }),
      );
      this.touched = false;
    } catch (error) {
      result.className = "form-result error";
      setText(result, error.detail ?? String(error));
    } finally {
      button.disabled = false;
    }
  }
}
