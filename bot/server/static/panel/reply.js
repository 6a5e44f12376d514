// The reply box: quick phrases (type "/hi" and press Tab, or pick one from the list),
// suggested answers as chips, Enter to send and Shift+Enter for a new line.

import { el, part } from "./dom.js";
import { _ } from "./i18n.js";

const MAX_CHARS = 4096;

export class ReplyBox {
  /** form: the reply <form> of a dialogue; onSend(text): resolves true once the reply is stored. */
  constructor(form, { onSend }) {
    this.form = form;
    this.onSend = onSend;
    this.input = part(form, "reply-input");
    this.menu = part(form, "quick-phrase-menu");
    this.list = part(form, "quick-phrases");
    this.chips = part(form, "suggestions");
    this.phrases = {};
    this.matches = [];
    this.selected = 0;
    this.allowed = false;
    this.busy = false;
    this.input.maxLength = MAX_CHARS;
    this.input.addEventListener("keydown", (event) => this.keydown(event));
    this.input.addEventListener("input", () => this.showMatches());
    this.input.addEventListener("blur", () => setTimeout(() => this.hideMenu(), 150));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
  }

  setPhrases(phrases) {
    this.phrases = phrases ?? {};
    const items = Object.entries(this.phrases).map(([shortcut, text]) => {
      const button = el(
        "button",
        { type: "button", class: "phrase", testid: "quick-phrase", title: text, dataset: { shortcut } },
        el("kbd", { text: shortcut }),
        el("span", { class: "phrase-text", text }),
      );
      button.addEventListener("click", () => this.insert(text, this.input.value.length, this.input.value.length));
      return el("li", {}, button);
    });
    this.list.replaceChildren(...items);
    this.list.closest("[data-part=phrases]").hidden = items.length === 0;
  }

  setSuggestions(suggestions) {
    const chips = (suggestions ?? []).map(({ title, text }) => {
      const chip = el("button", {
        type: "button",
        class: "chip",
        testid: "suggestion",
        title: text + "\n" + _("(the bot's answer to “{topic}”)", { topic: title }),
        text,
      });
      chip.addEventListener("click", () => this.insert(text, this.input.selectionStart, this.input.selectionEnd));
      return chip;
    });
    this.chips.replaceChildren(...chips);
    this.chips.hidden = chips.length === 0;
  }

  /** Whether this operator may reply now (they hold the ticket). */
  setEnabled(allowed) {
    this.allowed = allowed;
    this.update();
  }

  update() {
    const enabled = this.allowed && !this.busy;
    for (const control of this.form.querySelectorAll("textarea, button")) control.disabled = !enabled;
    if (!enabled) this.hideMenu();
  }

  /** The "/word" right before the cursor, if the operator is typing a shortcut. */
  token() {
    const end = this.input.selectionStart;
    const before = this.input.value.slice(0, end);
    const match = /(^|\s)(\/\S*)$/.exec(before);
    return match ? { start: end - match[2].length, end, text: match[2] } : null;
  }

  showMatches() {
    const token = this.token();
    const shortcuts = Object.keys(this.phrases);
    this.matches = token ? shortcuts.filter((s) => s.startsWith(token.text.toLowerCase()) || s.startsWith(token.text)) : [];
    if (this.matches.length === 0) {
      this.hideMenu();
      return;
    }
    this.selected = Math.min(this.selected, this.matches.length - 1);
    this.menu.replaceChildren(
      ...this.matches.map((shortcut, index) => {
        const option = el(
          "button",
          {
            type: "button",
            role: "option",
            class: "menu-item",
            testid: "quick-phrase-option",
            "aria-selected": String(index === this.selected),
          },
          el("kbd", { text: shortcut }),
          el("span", { text: this.phrases[shortcut] }),
        );
        option.addEventListener("mousedown", (event) => event.preventDefault()); // keep the focus
        option.addEventListener("click", () => this.expand(shortcut));
        return option;
      }),
    );
    this.menu.hidden = false;
  }

  hideMenu() {
    this.menu.hidden = true;
    this.matches = [];
    this.selected = 0;
  }

  /** Replace the shortcut being typed with its phrase. */
  expand(shortcut) {
    const token = this.token();
    if (!token) return;
    this.insert(this.phrases[shortcut], token.start, token.end);
    this.hideMenu();
  }

  insert(text, start, end) {
    const value = this.input.value;
    const from = start ?? value.length;
    const to = end ?? from;
    const before = value.slice(0, from);
    const spacer = before && !/\s$/.test(before) ? " " : "";
    this.input.value = before + spacer + text + value.slice(to);
    const cursor = from + spacer.length + text.length;
    this.input.focus();
    this.input.setSelectionRange(cursor, cursor);
  }

  keydown(event) {
    const open = !this.menu.hidden && this.matches.length > 0;
    if (event.key === "Tab" && !event.shiftKey) {
      const token = this.token();
      if (token) {
        if (!open) this.showMatches();
        if (this.matches.length > 0) {
          event.preventDefault();
          const exact = this.matches.find((s) => s === token.text);
          this.expand(exact ?? this.matches[this.selected]);
        }
      }
    } else if (open && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.selected = (this.selected + step + this.matches.length) % this.matches.length;
      this.showMatches();
    } else if (open && event.key === "Escape") {
      event.preventDefault();
      this.hideMenu();
    } else if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (open) this.expand(this.matches[this.selected]);
      else this.form.requestSubmit();
    }
  }

  async send() {
    const text = this.input.value.trim();
    if (!text) return;
    this.busy = true;
    this.update();
    try {
      if (await this.onSend(text)) this.input.value = "";
    } finally {
      this.busy = false;
      this.update();
      if (this.allowed) this.input.focus();
    }
  }
}
