/*
 * botdesk web chat widget. One tag on any page:
 *   <script src="https://BOTDESK-HOST/widget.js" async></script>
 * The server is the script's own origin. Everything lives in a shadow root, so the
 * shop's styles cannot break it. Every text from the server (customer, bot, operator)
 * is shown with textContent only: a message is data, never markup.
 * Protocol: docs/widget.md.
 */
(function () {
  "use strict";
  if (window.__botdeskWidget) return;
  window.__botdeskWidget = true;

  var script = document.currentScript;
  if (!script) {
    var tags = document.querySelectorAll("script[src]");
    for (var i = 0; i < tags.length; i++) if (/\/widget\.js(\?|$)/.test(tags[i].src)) script = tags[i];
  }
  if (!script) return;
  var ORIGIN = new URL(script.src, location.href).origin;
  var WS_URL = ORIGIN.replace(/^http/, "ws") + "/ws/chat";
  var KEY = "botdesk:";
  var MAX_CHARS = 4096;

  var TEXT = {
    ru: {
      open: "Открыть чат", close: "Закрыть чат", send: "Отправить", placeholder: "Напишите сообщение…",
      reconnecting: "Нет связи, переподключаемся…", hours: "Часы работы операторов: ",
      operator: "Оператор", menu: "Меню", copy: "Получить копию диалога на email",
      email: "Ваш email", emailSend: "Отправить копию", cancel: "Отмена", failed: "Не отправлено: ",
      sending: "Отправляется…", offer: "Диалог завершён. Прислать копию переписки на email?",
      unavailable: "Чат недоступен: ", dismiss: "Скрыть",
      queue: "Вы {position}-й в очереди · ожидание около {minutes} мин.", typing: "{name} печатает…",
    },
    en: {
      open: "Open chat", close: "Close chat", send: "Send", placeholder: "Type a message…",
      reconnecting: "Connection lost, reconnecting…", hours: "Operators' hours: ",
      operator: "Operator", menu: "Menu", copy: "Email me a copy of this chat",
      email: "Your email", emailSend: "Send a copy", cancel: "Cancel", failed: "Not sent: ",
      sending: "Sending…", offer: "The conversation has ended. Email you a copy?",
      unavailable: "The chat is unavailable: ", dismiss: "Dismiss",
      queue: "You are number {position} in the queue · about {minutes} min", typing: "{name} is typing…",
    },
  };
  var T = TEXT.ru;
  var TYPING_EVERY_MS = 2000;  // the customer's "typing" goes out at most this often
  var TYPING_SHOWN_MS = 6000;  // an operator's "typing…" fades without a fresh signal

  function fill(text, values) {
    return text.replace(/\{(\w+)\}/g, function (whole, key) { return key in values ? String(values[key]) : whole; });
  }

  // ---- storage (the shop's origin; private mode may refuse it) -------------------------
  function load(key) {
    try { return window.localStorage.getItem(KEY + key); } catch (e) { return null; }
  }
  function save(key, value) {
    try { window.localStorage.setItem(KEY + key, value); } catch (e) { /* private mode */ }
  }
  function randomId(bytes) {
    var data = new Uint8Array(bytes);
    window.crypto.getRandomValues(data);
    return Array.prototype.map.call(data, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }
  function visitorId() {
    var id = load("visitor");
    if (!id || !/^[A-Za-z0-9_-]{16,64}$/.test(id)) {
      id = randomId(16);
      save("visitor", id);
    }
    return id;
  }
  function loadPending() {
    try {
      var items = JSON.parse(load("pending") || "[]");
      return Array.isArray(items) ? items.filter(function (p) { return p && p.client_id && p.frame; }) : [];
    } catch (e) { return []; }
  }

  // ---- DOM helpers: text only -------------------------------------------------------------
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function show(node, visible) { node.hidden = !visible; }
  function chatIcon() {  // a speech bubble, drawn: no icon font or emoji font needed
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "bd-launcher-icon");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z");
    path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  // ---- the widget ---------------------------------------------------------------------
  function Widget(config) {
    this.config = config;
    this.status = config.status || {};
    T = TEXT[this.status.language] || TEXT.ru;
    this.visitor = visitorId();
    this.socket = null;
    this.attempt = 0;
    this.rendered = {};
    this.pending = loadPending();
    this.uploading = {};  // client id -> file name: files on their way (not sent through the socket)
    this.unread = 0;
    this.stopped = false;
    this.build();
    this.applyStatus(this.status);
    if (load("active") === "1") this.connect();
    this.maybeInvite(config.invitation);
  }

  Widget.prototype.build = function () {
    var self = this;
    var host = el("div");
    host.id = "botdesk-widget";
    host.dataset.connection = "idle";
    this.host = host;
    var root = host.attachShadow({ mode: "open" });
    var style = el("link");
    style.rel = "stylesheet";
    style.href = ORIGIN + "/widget.css";
    root.appendChild(style);

    this.launcher = el("button", "bd-launcher");
    this.launcher.type = "button";
    this.launcher.setAttribute("aria-label", T.open);
    this.launcher.appendChild(chatIcon());
    this.badge = el("span", "bd-unread");
    show(this.badge, false);
    this.launcher.appendChild(this.badge);
    this.launcher.addEventListener("click", function () { self.toggle(); });

    this.invite = el("div", "bd-invite");
    this.inviteText = el("button", "bd-invite-text");
    this.inviteText.type = "button";
    this.inviteText.addEventListener("click", function () { show(self.invite, false); self.open(); });
    var inviteClose = el("button", "bd-invite-close", "×");
    inviteClose.type = "button";
    inviteClose.setAttribute("aria-label", T.dismiss);
    inviteClose.addEventListener("click", function () { show(self.invite, false); });
    this.invite.appendChild(this.inviteText);
    this.invite.appendChild(inviteClose);
    show(this.invite, false);

    this.window = el("section", "bd-window");
    this.window.setAttribute("role", "dialog");
    var header = el("header", "bd-header");
    var heading = el("div", "bd-heading");
    this.title = el("div", "bd-title", this.config.status && this.config.status.title);
    this.statusLine = el("div", "bd-status");
    this.hours = el("div", "bd-hours");
    heading.appendChild(this.title);
    heading.appendChild(this.statusLine);
    heading.appendChild(this.hours);
    var menuButton = el("button", "bd-menu-button", "⋯");
    menuButton.type = "button";
    menuButton.setAttribute("aria-label", T.menu);
    menuButton.addEventListener("click", function () { show(self.menu, self.menu.hidden); });
    var closeButton = el("button", "bd-close", "×");
    closeButton.type = "button";
    closeButton.setAttribute("aria-label", T.close);
    closeButton.addEventListener("click", function () { self.close(); });
    header.appendChild(heading);
    header.appendChild(menuButton);
    header.appendChild(closeButton);

    this.menu = el("div", "bd-menu");
    this.copyItem = el("button", "bd-menu-copy", T.copy);
    this.copyItem.type = "button";
    this.copyItem.addEventListener("click", function () { show(self.menu, false); self.askEmail(); });
    this.menu.appendChild(this.copyItem);
    show(this.menu, false);

    this.banner = el("div", "bd-conn", T.reconnecting);
    show(this.banner, false);
    this.log = el("div", "bd-log");
    this.log.setAttribute("aria-live", "polite");

    this.emailForm = el("form", "bd-email");
    this.emailInput = el("input", "bd-email-input");
    this.emailInput.type = "email";
    this.emailInput.required = true;
    this.emailInput.maxLength = 254;
    this.emailInput.placeholder = T.email;
    var emailSend = el("button", "bd-email-send", T.emailSend);
    emailSend.type = "submit";
    var emailCancel = el("button", "bd-email-cancel", T.cancel);
    emailCancel.type = "button";
    emailCancel.addEventListener("click", function () { show(self.emailForm, false); });
    this.emailNote = el("div", "bd-email-note");
    this.emailForm.appendChild(this.emailInput);
    this.emailForm.appendChild(emailSend);
    this.emailForm.appendChild(emailCancel);
    this.emailForm.appendChild(this.emailNote);
    this.emailForm.addEventListener("submit", function (event) {
      event.preventDefault();
      self.emailNote.textContent = T.sending;
      self.emailNote.className = "bd-email-note";
      self.sendFrame({ type: "transcript", email: self.emailInput.value.trim() }, false);
    });
    show(this.emailForm, false);

    this.form = el("form", "bd-compose");
    this.input = el("textarea", "bd-input");
    this.input.rows = 1;
    this.input.maxLength = MAX_CHARS;
    this.input.placeholder = T.placeholder;
    this.input.setAttribute("aria-label", T.placeholder);
    var send = el("button", "bd-send", T.send);
    send.type = "submit";
    this.form.appendChild(this.input);
    this.form.appendChild(send);
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.submit();
      }
    });
    this.form.addEventListener("submit", function (event) { event.preventDefault(); self.submit(); });
    this.buildFiles();  // the attach button and drag-and-drop (below, "files")

    [header, this.menu, this.banner, this.log, this.emailForm, this.form].forEach(function (n) {
      self.window.appendChild(n);
    });
    show(this.window, false);
    root.appendChild(this.window);
    root.appendChild(this.invite);
    root.appendChild(this.launcher);
    this.buildLive();
    document.body.appendChild(host);
  };

  /** The live lines: the place in the queue (under the header) and "Anna is typing…" (above the box). */
  Widget.prototype.buildLive = function () {
    var self = this;
    this.queueLine = el("div", "bd-queue");
    this.queueLine.setAttribute("role", "status");
    show(this.queueLine, false);
    this.window.insertBefore(this.queueLine, this.log);
    this.typingLine = el("div", "bd-typing");
    this.typingLine.setAttribute("aria-live", "polite");
    show(this.typingLine, false);
    this.window.insertBefore(this.typingLine, this.emailForm);
    this.typingTimer = null;
    this.typedAt = 0;
    this.input.addEventListener("input", function () { self.noteTyping(); });
  };

  Widget.prototype.applyStatus = function (status) {
    this.status = status;
    if (status.title) this.title.textContent = status.title;
    this.statusLine.textContent = status.line || "";
    this.statusLine.className = "bd-status " + (status.online ? "bd-online" : "bd-offline");
    this.hours.textContent = status.hours && status.hours.length ? T.hours + status.hours.join("; ") : "";
    show(this.copyItem, !!status.email);
  };

  Widget.prototype.toggle = function () { if (this.window.hidden) this.open(); else this.close(); };

  Widget.prototype.open = function () {
    show(this.window, true);
    this.host.dataset.open = "true";
    show(this.invite, false);
    this.launcher.setAttribute("aria-label", T.close);
    this.unread = 0;
    show(this.badge, false);
    save("active", "1");
    save("open", "1");
    if (!this.socket) this.connect();
    else this.sendFrame({ type: "status" }, false);
    this.input.focus();
    this.scroll();
  };

  Widget.prototype.close = function () {
    show(this.window, false);
    this.host.dataset.open = "false";
    this.launcher.setAttribute("aria-label", T.open);
    save("open", "0");
  };

  Widget.prototype.maybeInvite = function (invitation) {
    var self = this;
    var host = this.host;
    host.dataset.invitation = "none";  // what happened to this page's invitation, for tests and debugging
    if (load("open") === "1") { this.open(); return; }
    if (!invitation) return;
    if (load("active") === "1" || load("invited:" + invitation.id)) {
      host.dataset.invitation = "skipped";  // shown before, or the visitor chats already
      return;
    }
    host.dataset.invitation = "scheduled";
    setTimeout(function () {
      if (!self.window.hidden || load("invited:" + invitation.id)) return;
      save("invited:" + invitation.id, "1");
      self.inviteText.textContent = invitation.text;
      show(self.invite, true);
      host.dataset.invitation = "shown";
    }, Math.max(0, invitation.delay_seconds) * 1000);
  };

  // ---- the connection -----------------------------------------------------------------
  Widget.prototype.connect = function () {
    var self = this;
    if (this.stopped) return;
    var socket = new WebSocket(WS_URL + "?visitor=" + encodeURIComponent(this.visitor));
    this.socket = socket;
    socket.onopen = function () {
      self.attempt = 0;
      show(self.banner, false);
      self.host.dataset.connection = "live";
      socket.send(JSON.stringify({ type: "page", url: location.href.slice(0, 2000) }));
    };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      self.receive(frame);
    };
    socket.onclose = function (event) {
      if (self.socket !== socket) return;
      self.socket = null;
      if (event.code === 1008) {  // refused on purpose: retrying will not help
        self.stopped = true;
        self.host.dataset.connection = "refused";
        self.notice(T.unavailable + (event.reason || event.code));
        return;
      }
      show(self.banner, true);
      self.host.dataset.connection = "reconnecting";
      var delay = Math.min(30000, 1000 * Math.pow(2, self.attempt)) * (0.5 + Math.random() / 2);
      self.attempt += 1;
      setTimeout(function () { self.connect(); }, delay);
    };
  };

  Widget.prototype.isOpen = function () {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  };

  /** Send a frame now if connected; ``keep``: a customer message, kept until the server stores it. */
  Widget.prototype.sendFrame = function (frame, keep) {
    if (keep) {
      this.pending.push({ client_id: frame.client_id, frame: frame });
      save("pending", JSON.stringify(this.pending));
    }
    if (this.isOpen()) this.socket.send(JSON.stringify(frame));
    else if (!this.socket) this.connect();
  };

  Widget.prototype.settle = function (clientId) {
    this.pending = this.pending.filter(function (p) { return p.client_id !== clientId; });
    save("pending", JSON.stringify(this.pending));
  };

  Widget.prototype.submit = function () {
    var text = this.input.value;
    if (!text.trim()) return;
    this.input.value = "";
    this.typedAt = 0;  // the message itself ends "typing" on the operator's side
    this.dropGreetingButtons();
    var clientId = "c" + Date.now().toString(36) + randomId(6);
    var frame = { type: "message", text: text.slice(0, MAX_CHARS), client_id: clientId };
    this.renderPending(clientId, frame.text);
    this.sendFrame(frame, true);
  };

  Widget.prototype.press = function (button) {
    this.dropGreetingButtons();
    var clientId = "b" + Date.now().toString(36) + randomId(6);
    var frame = { type: "button", payload: button.payload, title: button.title, client_id: clientId };
    this.renderPending(clientId, button.title || button.payload);
    this.sendFrame(frame, true);
  };

  Widget.prototype.receive = function (frame) {
    var self = this;
    if (this.receiveLive(frame)) return;
    if (frame.type === "status") this.applyStatus(frame);
    else if (frame.type === "history") {
      this.log.textContent = "";
      this.rendered = {};
      (frame.messages || []).forEach(function (m) {
        if (m.client_id) self.settle(m.client_id);
        self.render(m, false);
      });
      if (!(frame.messages || []).length && !this.pending.length) this.greet();
      this.pending.forEach(function (p) {  // typed while offline: shown, then sent again
        self.renderPending(p.client_id, p.frame.text || p.frame.title || p.frame.payload);
        self.socket.send(JSON.stringify(p.frame));
      });
      Object.keys(this.uploading).forEach(function (clientId) {  // still uploading: kept in view
        var stored = self.log.querySelector('[data-client-id="' + CSS.escape(clientId) + '"]');
        if (!stored) self.renderPending(clientId, self.uploading[clientId]);
      });
      this.scroll();
    } else if (frame.type === "message") {
      if (frame.client_id) this.settle(frame.client_id);
      this.render(frame, true);
      this.scroll();
    } else if (frame.type === "transcript") {
      this.emailNote.textContent = frame.detail;
      this.emailNote.className = "bd-email-note bd-ok";
    } else if (frame.type === "error") {
      this.refused(frame);
    }
  };

  Widget.prototype.refused = function (frame) {
    var self = this;
    if (frame.about === "transcript") {
      this.emailNote.textContent = frame.detail;
      this.emailNote.className = "bd-email-note bd-error";
      return;
    }
    var bubble = frame.client_id && this.log.querySelector('[data-client-id="' + CSS.escape(frame.client_id) + '"]');
    if (frame.client_id && frame.retry) {  // the server will take it later
      setTimeout(function () {
        self.pending.forEach(function (p) {
          if (p.client_id === frame.client_id && self.isOpen()) self.socket.send(JSON.stringify(p.frame));
        });
      }, 3000);
      return;
    }
    if (frame.client_id) this.settle(frame.client_id);
    if (bubble) {
      bubble.classList.remove("bd-pending");
      bubble.classList.add("bd-failed");
      bubble.appendChild(el("div", "bd-failed-reason", T.failed + frame.detail));
    } else {
      this.notice(frame.detail);
    }
  };

  // ---- live lines: the queue, typing, the greeting -----------------------------------------
  /** Frames that only change a live line; true when handled. An operator's message ends "typing…". */
  Widget.prototype.receiveLive = function (frame) {
    if (frame.type === "queue") {
      this.showQueue(frame);
      return true;
    }
    if (frame.type === "typing") {
      this.showTyping(frame.active ? frame.name || T.operator : null);
      return true;
    }
    if (frame.type === "message" && frame.sender === "operator") this.showTyping(null);
    return false;
  };

  Widget.prototype.showQueue = function (frame) {
    var waiting = typeof frame.position === "number" && frame.position > 0;
    this.queueLine.textContent = waiting ? fill(T.queue, { position: frame.position, minutes: frame.minutes }) : "";
    show(this.queueLine, waiting);
    this.host.dataset.queue = waiting ? String(frame.position) : "none";
  };

  Widget.prototype.showTyping = function (name) {
    var self = this;
    clearTimeout(this.typingTimer);
    this.typingLine.textContent = name ? fill(T.typing, { name: name }) : "";
    show(this.typingLine, !!name);
    if (name) this.typingTimer = setTimeout(function () { self.showTyping(null); }, TYPING_SHOWN_MS);
  };

  /** The customer types: the operator sees "typing…" (a frame at most every 2 s; one when the box empties). */
  Widget.prototype.noteTyping = function () {
    if (!this.isOpen()) return;
    var typing = this.input.value.trim() !== "";
    var now = Date.now();
    if (typing && now - this.typedAt < TYPING_EVERY_MS) return;
    if (!typing && !this.typedAt) return;
    this.typedAt = typing ? now : 0;
    this.socket.send(JSON.stringify({ type: "typing", active: typing }));
  };

  /** Before the customer has written anything: the greeting and its quick buttons (not stored). */
  Widget.prototype.greet = function () {
    var self = this;
    var greeting = this.config.greeting;
    if (!greeting || !greeting.text) return;
    var node = el("div", "bd-msg bd-greeting");  // not a stored message: its own classes
    var who = el("div", "bd-who");
    who.appendChild(el("span", "bd-badge", this.status.bot_label || "Bot"));
    node.appendChild(who);
    node.appendChild(el("div", "bd-greeting-text", greeting.text));
    this.log.appendChild(node);
    if (greeting.buttons && greeting.buttons.length) {
      var row = el("div", "bd-buttons bd-quick");
      greeting.buttons.forEach(function (b) {
        var button = el("button", "bd-button", b.title);
        button.type = "button";
        button.addEventListener("click", function () { self.press({ title: b.title, payload: b.payload || b.title }); });
        row.appendChild(button);
      });
      this.log.appendChild(row);
    }
  };

  Widget.prototype.dropGreetingButtons = function () {
    var quick = this.log.querySelector(".bd-quick");
    if (quick) quick.remove();
  };

  // ---- rendering (textContent only) -------------------------------------------------------
  Widget.prototype.renderPending = function (clientId, text) {
    var bubble = el("div", "bd-msg bd-customer bd-pending");
    bubble.dataset.clientId = clientId;
    bubble.appendChild(el("div", "bd-text", text));
    this.log.appendChild(bubble);
    this.scroll();
  };

  Widget.prototype.render = function (m, live) {
    if (m.id !== null && m.id !== undefined && this.rendered[m.id]) return;
    if (m.id !== null && m.id !== undefined) this.rendered[m.id] = true;
    var node;
    if (m.sender === "customer") {
      node = m.client_id && this.log.querySelector('[data-client-id="' + CSS.escape(m.client_id) + '"]');
      if (node) {
        node.classList.remove("bd-pending", "bd-failed");
        if (m.files && m.files.length && !node.querySelector(".bd-files")) {
          if (!m.text) node.textContent = "";  // the file's name stood in while it was sent
          this.renderFiles(node, m.files);
        }
        return;
      }
      node = el("div", "bd-msg bd-customer");
      if (m.client_id) node.dataset.clientId = m.client_id;
      node.appendChild(el("div", "bd-text", m.text));
    } else if (m.sender === "system") {
      node = el("div", "bd-event", m.text);
    } else {
      node = el("div", "bd-msg bd-" + (m.sender === "operator" ? "operator" : "bot"));
      var who = el("div", "bd-who");
      if (m.sender === "operator") {
        if (m.photo_url && /^https?:\/\//i.test(m.photo_url)) {
          var photo = el("img", "bd-photo");
          photo.src = m.photo_url;
          photo.alt = "";
          who.appendChild(photo);
        }
        who.appendChild(el("span", "bd-name", m.sender_name || T.operator));
      } else {
        who.appendChild(el("span", "bd-badge", m.sender_name || this.status.bot_label || "Bot"));
      }
      node.appendChild(who);
      node.appendChild(el("div", "bd-text", m.text));
    }
    if (m.files && m.files.length) this.renderFiles(node, m.files);
    node.title = m.created_at ? new Date(m.created_at).toLocaleString() : "";
    this.log.appendChild(node);
    if (live && m.buttons && m.buttons.length) this.renderButtons(m.buttons);
    if (live && m.ends_dialogue && this.status.email) this.offerCopy();
    if (live && m.sender !== "customer" && this.window.hidden) {
      this.unread += 1;
      this.badge.textContent = String(this.unread);
      show(this.badge, true);
    }
  };

  Widget.prototype.renderButtons = function (buttons) {
    var self = this;
    var row = el("div", "bd-buttons");
    buttons.forEach(function (b) {
      var button = el("button", "bd-button", b.title || b.payload);
      button.type = "button";
      button.addEventListener("click", function () {
        row.remove();
        self.press(b);
      });
      row.appendChild(button);
    });
    this.log.appendChild(row);
  };

  Widget.prototype.offerCopy = function () {
    var self = this;
    var offer = el("div", "bd-offer");
    offer.appendChild(el("span", null, T.offer + " "));
    var yes = el("button", "bd-offer-yes", T.copy);
    yes.type = "button";
    yes.addEventListener("click", function () { offer.remove(); self.askEmail(); });
    offer.appendChild(yes);
    this.log.appendChild(offer);
  };

  Widget.prototype.askEmail = function () {
    this.emailNote.textContent = "";
    show(this.emailForm, true);
    this.emailInput.focus();
  };

  Widget.prototype.notice = function (text) {
    this.log.appendChild(el("div", "bd-notice", text));
    this.scroll();
  };

  Widget.prototype.scroll = function () { this.log.scrollTop = this.log.scrollHeight; };

  // ---- files: attach (button or drop), show (images inline, others as downloads) ----------
  // Files go over HTTP (POST /widget/files) with the visitor id in a header, and come back
  // the same way (GET /widget/files/<id>): never by a URL that would work for someone else.
  var FILE_TEXT = {
    ru: { attach: "Прикрепить файл", tooLarge: "Файл больше {size}: такой не отправить.", drop: "Отпустите, чтобы отправить файл",
          file: "файл", failed: "Файл не открылся." },
    en: { attach: "Attach a file", tooLarge: "The file is over {size}: it cannot be sent.", drop: "Drop to send the file",
          file: "file", failed: "The file could not be opened." },
  };

  function clipIcon() {  // a paper clip, drawn (no emoji font needed, as for the chat icon)
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("class", "bd-attach-icon");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M16 7v9a4 4 0 0 1-8 0V6a2.5 2.5 0 0 1 5 0v9.5a1 1 0 0 1-2 0V7");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "2");
    path.setAttribute("stroke-linecap", "round");
    svg.appendChild(path);
    return svg;
  }

  function fileText(widget) { return FILE_TEXT[widget.status.language] || FILE_TEXT.ru; }

  function sizeLabel(bytes, language) {
    var mb = language === "en" ? " MB" : " МБ";
    var kb = language === "en" ? " KB" : " КБ";
    return bytes >= 1048576 ? (bytes / 1048576).toFixed(bytes >= 10485760 ? 0 : 1) + mb : Math.max(1, Math.round(bytes / 1024)) + kb;
  }

  Widget.prototype.buildFiles = function () {
    var self = this;
    var files = this.config.files;
    if (!files || !window.fetch) return;  // a server without files: no button
    var words = fileText(this);
    this.fileInput = el("input", "bd-file-input");
    this.fileInput.type = "file";
    this.fileInput.multiple = true;
    if (files.accept) this.fileInput.accept = files.accept;
    this.fileInput.hidden = true;
    var attach = el("button", "bd-attach");
    attach.appendChild(clipIcon());
    attach.type = "button";
    attach.title = words.attach;
    attach.setAttribute("aria-label", words.attach);
    attach.addEventListener("click", function () { self.fileInput.click(); });
    this.fileInput.addEventListener("change", function () {
      Array.prototype.forEach.call(self.fileInput.files || [], function (file) { self.upload(file); });
      self.fileInput.value = "";
    });
    this.form.insertBefore(attach, this.form.firstChild);
    this.form.appendChild(this.fileInput);
    this.window.addEventListener("dragover", function (event) {
      if (!event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types || [], "Files") < 0) return;
      event.preventDefault();
      self.window.classList.add("bd-dropping");
    });
    this.window.addEventListener("dragleave", function (event) {
      if (event.target === self.window) self.window.classList.remove("bd-dropping");
    });
    this.window.addEventListener("drop", function (event) {
      self.window.classList.remove("bd-dropping");
      if (!event.dataTransfer || !event.dataTransfer.files || !event.dataTransfer.files.length) return;
      event.preventDefault();
      Array.prototype.forEach.call(event.dataTransfer.files, function (file) { self.upload(file); });
    });
  };

  /** One file: shown at once as pending, sent, then the stored message (with the file) replaces it. */
  Widget.prototype.upload = function (file) {
    var self = this;
    var words = fileText(this);
    var clientId = "f" + Date.now().toString(36) + randomId(6);
    this.renderPending(clientId, file.name);
    if (file.size > this.config.files.max_bytes) {
      this.refused({ client_id: clientId, detail: words.tooLarge.replace("{size}", sizeLabel(this.config.files.max_bytes, this.status.language)) });
      return;
    }
    this.uploading[clientId] = file.name;  // a history that arrives meanwhile redraws its bubble
    var done = function () { delete self.uploading[clientId]; };
    fetch(ORIGIN + "/widget/files", {
      method: "POST",
      credentials: "omit",
      headers: {
        "Content-Type": "application/octet-stream",
        "X-Botdesk-Visitor": this.visitor,
        "X-File-Name": encodeURIComponent(file.name.slice(0, 255)),
        "X-Client-Id": clientId,
      },
      body: file,
    })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          done();
          if (!response.ok) throw new Error(data.detail || String(response.status));
          if (data.message) self.render(data.message, true);  // the socket brings it too: shown once
          self.scroll();
        });
      })
      .catch(function (error) { done(); self.refused({ client_id: clientId, detail: error.message }); });
  };

  /** The files of a message: images as pictures, others as download links (the name as text). */
  Widget.prototype.renderFiles = function (node, files) {
    var self = this;
    var list = el("div", "bd-files");
    files.forEach(function (f) {
      if (f.inline) {
        var image = el("img", "bd-file-image");
        image.alt = f.name;
        list.appendChild(image);
        self.fetchFile(f).then(function (url) { image.src = url; }, function () {
          image.replaceWith(el("span", "bd-file-error", fileText(self).failed));
        });
      } else {
        var link = el("a", "bd-file-link", f.name + " · " + sizeLabel(f.size, self.status.language));
        link.href = "#";
        link.addEventListener("click", function (event) {
          event.preventDefault();
          self.fetchFile(f).then(function (url) {
            var save = el("a");
            save.href = url;
            save.download = f.name;
            document.body.appendChild(save);
            save.click();
            save.remove();
          }, function () { self.notice(fileText(self).failed); });
        });
        list.appendChild(link);
      }
    });
    node.appendChild(list);
  };

  /** A file of this visitor's conversations as a blob: URL (the visitor id goes in a header). */
  Widget.prototype.fetchFile = function (f) {
    this.fileUrls = this.fileUrls || {};
    if (this.fileUrls[f.id]) return Promise.resolve(this.fileUrls[f.id]);
    var self = this;
    return fetch(ORIGIN + "/widget/files/" + encodeURIComponent(f.id), {
      credentials: "omit",
      headers: { "X-Botdesk-Visitor": this.visitor },
    })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.blob();
      })
      .then(function (blob) {
        self.fileUrls[f.id] = URL.createObjectURL(blob);
        return self.fileUrls[f.id];
      });
  };

  // ---- start: ask the server whether this page shows the widget -------------------------
  function start() {
    fetch(ORIGIN + "/widget/config?page=" + encodeURIComponent(location.href.slice(0, 2000)), {
      credentials: "omit",
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (config) {
        if (config && !config.hidden) window.__botdeskWidget = new Widget(config);
        else window.__botdeskWidget = config ? "hidden" : "unavailable";
      })
      .catch(function () { /* botdesk unreachable: the page works without the chat */ });
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
