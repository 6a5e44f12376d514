// How the panel words things: escalation reasons, channels, durations, times.

const REASONS = {
  human_request: "asked for a person",
  complaint: "complaint",
  unsure: "bot was unsure",
  misunderstood: "bot did not understand",
  did_not_help: "bot's answer did not help",
  repeated_question: "asked the same again",
  human_only: "only a person can do this",
  after_hours: "after hours",
};

const CHANNELS = { rest: "REST", webchat: "Website", widget: "Website", telegram: "Telegram" };

const SENDERS = { customer: "Customer", bot: "Bot", operator: "Operator", system: "System" };

/** An escalation rule's name as an operator reads it ("human_request" -> "asked for a person"). */
export function reasonLabel(reason) {
  if (!reason) return "handed off";
  return REASONS[reason] ?? String(reason).replaceAll("_", " ");
}

export function channelLabel(channel) {
  if (!channel) return "";
  return CHANNELS[channel] ?? channel;
}

export function senderLabel(sender) {
  return SENDERS[sender] ?? sender;
}

/** 42 -> "42 s", 250 -> "4 min 10 s", 4000 -> "1 h 6 min". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ${s % 60} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** "0.87" -> "87%"; nothing when the NLU gave no confidence. */
export function percent(confidence) {
  if (confidence === null || confidence === undefined || Number.isNaN(Number(confidence))) return "";
  return `${Math.round(Number(confidence) * 100)}%`;
}

/** The time of a message: "14:05" today, "12 Mar 14:05" on another day. */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const today = new Date();
  if (date.toDateString() === today.toDateString()) return time;
  return `${date.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

/** A slot value as short text (lists joined, objects as JSON). */
export function slotValue(value) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.map(slotValue).join(", ");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
