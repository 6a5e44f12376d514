// The page's language: its message catalog, embedded by the server as JSON
// (<script type="application/json" id="botdesk-i18n">, data only: the CSP runs no inline script).
// Texts are written in English in the code and looked up here, the way gettext does it in
// Python (bot/i18n): _() for a sentence, ngettext() for one that depends on a number (the
// form is chosen with Intl.PluralRules: Russian has three), pgettext()/gendered() for one that
// agrees with a person's grammatical gender. Placeholders are {name}, filled from an object.

const data = JSON.parse(document.getElementById("botdesk-i18n")?.textContent || "{}");
const messages = data.messages ?? {};
const names = data.names ?? {};

/** The page's language ("ru", "en"), for dates and numbers too. */
export const language = data.language ?? "en";
const plurals = new Intl.PluralRules(language);

function fill(text, values) {
  if (!values) return text;
  return text.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

/** A sentence in the page's language. */
export function _(message, values) {
  const found = messages[message];
  return fill(typeof found === "string" ? found : message, values);
}

/** The form for the number n ({n} is filled in too). */
export function ngettext(singular, plural, n, values) {
  const found = messages[singular];
  let text = null;
  if (found && typeof found === "object") text = found[plurals.select(n)] ?? found.other ?? null;
  if (text === null) text = n === 1 ? singular : plural;
  return fill(text, { n, ...values });
}

/** A sentence in a context (gettext's msgctxt), else its plain translation. */
export function pgettext(context, message, values) {
  const found = messages[`${context}\u0004${message}`];
  return typeof found === "string" ? fill(found, values) : _(message, values);
}

/** A sentence about a person that agrees with their grammatical gender ("female", "male"; else neutral). */
export function gendered(gender, message, values) {
  return gender === "female" || gender === "male" ? pgettext(gender, message, values) : _(message, values);
}

/** "order_status" -> "Order status": an id nobody named. */
export function humanise(id) {
  const text = String(id ?? "").replaceAll("_", " ").replaceAll("-", " ").replace(/\s+/g, " ").trim();
  return text ? text[0].toUpperCase() + text.slice(1) : "";
}

/**
 * The display name of an id: kind is "reasons", "channels", "roles", "statuses", "senders",
 * "slots", "intents" or "departments" (the server sends them with the catalog).
 */
export function nameOf(kind, id) {
  if (id === null || id === undefined || id === "") return "";
  return names[kind]?.[id] ?? humanise(id);
}
