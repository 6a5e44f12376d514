// The live feed: one WebSocket to /api/events that reconnects by itself (1 s, 2 s, 4 s …
// up to 30 s, with jitter). Events are hints: after a reconnect the panel reloads what it
// shows, since anything said while the connection was down was not pushed.

const MAX_DELAY_MS = 30_000;

export class LiveEvents {
  /**
   * onEvent(event): each parsed event; onState(state, reconnected): "connecting" | "live" |
   * "offline", and on "live" whether this is a reconnection (time to reload).
   */
  constructor({ onEvent, onState }) {
    this.onEvent = onEvent;
    this.onState = onState;
    this.delay = 1000;
    this.connectedBefore = false;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.connect();
    // A laptop waking up or a network coming back: try at once rather than at the next backoff.
    window.addEventListener("online", () => this.retryNow());
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.retryNow();
    });
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, "bye");
  }

  retryNow() {
    if (this.stopped || (this.socket && this.socket.readyState <= WebSocket.OPEN)) return;
    clearTimeout(this.timer);
    this.delay = 1000;
    this.connect();
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    this.onState("connecting", false);
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}/api/events`);
    } catch {
      this.schedule();
      return;
    }
    this.socket = socket;
    socket.addEventListener("open", () => {
      this.delay = 1000;
      this.onState("live", this.connectedBefore);
      this.connectedBefore = true;
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return; // not ours; nothing to show
      }
      if (event && typeof event === "object") this.onEvent(event);
    });
    socket.addEventListener("close", () => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.stopped) return;
      this.onState("offline", false);
      this.schedule();
    });
  }

  /** Send a small frame to the server (the operator types); dropped while the feed is down. */
  send(frame) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  schedule() {
    const jitter = Math.random() * 0.3 * this.delay;
    this.timer = setTimeout(() => this.connect(), this.delay + jitter);
    this.delay = Math.min(this.delay * 2, MAX_DELAY_MS);
  }
}
