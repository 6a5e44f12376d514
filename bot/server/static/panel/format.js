// How the panel words things: escalation reasons, channels, intents, durations, times — in the
// operator's language (i18n.js), ids never shown raw.

import { _, language, nameOf } from "./i18n.js";

/** An escalation rule's name as an operator reads it ("human_request" -> "asked for a person"). */
export function reasonLabel(reason) {
  if (!reason) return _("handed off");
  return nameOf("reasons", reason);
}

export function channelLabel(channel) {
  return nameOf("channels", channel);
}

export function senderLabel(sender) {
  return nameOf("senders", sender);
}

/** An intent by its title (from the intent file), "not understood" for the fallback. */
export function intentLabel(intent) {
  if (!intent) return "";
  if (intent === "nlu_fallback") return _("not understood");
  return nameOf("intents", intent);
}

export function slotLabel(slot) {
  return nameOf("slots", slot);
}

export function roleLabel(role) {
  return nameOf("roles", role);
}

export function statusLabel(status) {
  return nameOf("statuses", status);
}

/** 42 -> "42 s", 250 -> "4 min 10 s", 4000 -> "1 h 6 min". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return _("{s} s", { s });
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return _("{m} min {s} s", { m: minutes, s: s % 60 });
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return _("{h} h {m} min", { h: hours, m: minutes % 60 });
  return _("{d} d {h} h", { d: Math.floor(hours / 24), h: hours % 24 });
}

/** "0.87" -> "87%"; nothing when the NLU gave no confidence. */
export function percent(confidence) {
  if (confidence === null || confidence === undefined || Number.isNaN(Number(confidence))) return "";
  return new Intl.NumberFormat(language, { style: "percent", maximumFractionDigits: 0 }).format(Number(confidence));
}

/** The time of a message: "14:05" today, "12 Mar 14:05" on another day (in the page's language). */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const time = date.toLocaleTimeString(language, { hour: "2-digit", minute: "2-digit" });
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return time;
  return `${date.toLocaleDateString(language, { day: "numeric", month: "short" })} ${time}`;
}

/** A slot value as short text (lists joined, objects as JSON). */
export function slotValue(value) {
  if (value === null || value === undefined) return "—";
  if (value === true) return _("yes");
  if (value === false) return _("no");
  if (Array.isArray(value)) return value.map(slotValue).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
