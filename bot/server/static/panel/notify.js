// Getting the operator's attention: a desktop notification and a short beep when a
// dialogue is handed off, and an unread count in the page title.
//
// Browsers allow both only after the person has interacted with the page, so the first
// click anywhere asks for notification permission and unlocks the sound.

import { _ } from "./i18n.js";

const BASE_TITLE = _("botdesk panel");
let audio = null;

export function armOnFirstClick() {
  const arm = () => {
    if ("Notification" in window && Notification.permission === "default") {
      Promise.resolve(Notification.requestPermission()).catch(() => {});
    }
    try {
      audio ??= new AudioContext();
      audio.resume().catch(() => {});
    } catch {
      audio = null; // no WebAudio here: the panel works silently
    }
  };
  document.addEventListener("click", arm, { once: true, capture: true });
}

/** A short two-tone beep, generated (no audio file). */
export function beep() {
  if (!audio || audio.state !== "running") return;
  const start = audio.currentTime;
  for (const [offset, frequency] of [[0, 880], [0.16, 1175]]) {
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = frequency;
    gain.gain.setValueAtTime(0.0001, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.14);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start + offset);
    oscillator.stop(start + offset + 0.15);
  }
}

/** A desktop notification (plain text by nature); clicking it focuses the panel and runs onClick. */
export function notify(title, body, tag, onClick) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const notification = new Notification(title, { body, tag });
    notification.onclick = () => {
      window.focus();
      onClick?.();
      notification.close();
    };
  } catch {
    // Some browsers only allow notifications from a service worker; the beep and the queue remain.
  }
}

/** "(3) botdesk panel" while there are unread messages, "botdesk panel" otherwise. */
export function setUnreadBadge(count) {
  document.title = count > 0 ? `(${count}) ${BASE_TITLE}` : BASE_TITLE;
}
