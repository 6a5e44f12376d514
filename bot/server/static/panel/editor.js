// The editor page: the NLU inbox in groups, labels (proposals for operators), proposals to
// review, retraining with progress, the gate report and publishing. Customer text is shown
// with textContent only (dom.js), never as markup.

import { ApiError, get, post } from "./api.js";
import { el, part, setText } from "./dom.js";
import { _, language, nameOf, ngettext } from "./i18n.js";

const root = document.querySelector('[data-testid="editor"]');
const canEdit = root.dataset.canEdit === "true";
const selected = new Set();
const operatorAnswers = new Map(); // message id -> what an operator answered it by hand
const REASONS = {
  fallback: _("not understood"),
  escalation: _("handed to a person"),
  said_no: _("“did not help”"),
  bot_could_answer: _("the bot could have answered"),
};
const SENDERS = { customer: _("customer"), bot: _("bot"), operator: _("operator"), system: _("system") };

/** An intent for an editor: its title, with the id they write in the files. */
function intentName(intent) {
  if (!intent) return "";
  if (intent === "nlu_fallback") return _("not understood");
  const title = nameOf("intents", intent);
  return title && title !== intent ? `${title} (${intent})` : intent;
}

function toast(text, kind = "ok") {
  const box = part(document, "toasts");
  const note = el("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, el("span", { text }));
  box.append(note);
  setTimeout(() => note.remove(), 6000);
}

function explain(error) {
  return error instanceof ApiError ? error.detail : String(error);
}

async function guarded(action) {
  try {
    return await action();
  } catch (error) {
    toast(explain(error), "error");
    return undefined;
  }
}

// ---- inbox ------------------------------------------------------------------------------

function updateSelection() {
  part(document, "selected-count").textContent = String(selected.size);
  part(document, "label-submit").disabled = selected.size === 0;
}

function select(checkbox, id) {
  if (checkbox.checked) selected.add(id);
  else selected.delete(id);
  updateSelection();
  offerCandidateAnswer();
}

/** For a new intent, an operator's answer to one of the chosen messages is the candidate answer. */
function offerCandidateAnswer() {
  const response = part(document, "label-response");
  if (response.value.trim() || part(document, "label-action").value !== "new_intent") return;
  const answer = [...selected].map((id) => operatorAnswers.get(id)).find(Boolean);
  if (answer) response.value = answer;
}

function renderContext(message) {
  const list = el("ol", { class: "context", testid: "message-context" });
  for (const line of message.context) {
    list.append(
      el(
        "li",
        { class: `context-line sender-${line.sender}${line.this ? " this" : ""}` },
        el("span", { class: "who", text: SENDERS[line.sender] ?? line.sender }),
        el("span", { text: line.text }),
      ),
    );
  }
  return el("details", { class: "context-box" }, el("summary", { text: _("Conversation") }), list);
}

async function makeStory(message, button) {
  button.disabled = true;
  const result = await guarded(() => post("/api/editor/stories", { conversation_id: message.conversation_id }));
  button.disabled = false;
  if (result) toast(_("Test story “{story}” added to {file}", { story: result.story.story, file: result.file }));
}

function renderMessage(message) {
  const checkbox = el("input", {
    type: "checkbox",
    testid: "message-select",
    "aria-label": _("Select this message"),
    dataset: { message: String(message.message_id) },
  });
  checkbox.addEventListener("change", () => select(checkbox, message.message_id));
  const guess = message.intent
    ? _("bot: {intent} {confidence}", {
        intent: intentName(message.intent),
        confidence: message.confidence === null ? "" : message.confidence.toFixed(2),
      }).trim()
    : null;
  const meta = el(
    "div",
    { class: "message-meta" },
    message.reasons.map((r) => el("span", { class: `tag reason-${r}`, text: REASONS[r] ?? r })),
    guess ? el("span", { class: "muted small", text: guess, testid: "message-guess" }) : null,
    message.has_personal_data ? el("span", { class: "tag private-tag", text: _("personal data masked") }) : null,
  );
  const item = el(
    "li",
    { class: "inbox-message", testid: "message", dataset: { message: String(message.message_id) } },
    el("label", { class: "check" }, checkbox, el("span", { class: "message-text", text: message.text, testid: "message-text" })),
    meta,
  );
  if (message.could_answer) {
    const intent = message.could_answer.intent;
    const use = el("button", {
      type: "button",
      class: "link small",
      testid: "use-could-answer",
      text: _("Add to {intent}", { intent: intentName(intent) }),
    });
    use.addEventListener("click", () => {
      checkbox.checked = true;
      select(checkbox, message.message_id);
      part(document, "label-action").value = "assign";
      showActionFields();
      part(document, "label-intent").value = intent;
    });
    item.append(
      el(
        "p",
        { class: "could-answer small", testid: "could-answer" },
        _("The bot could have answered this: the operator's answer matches {intent}.", { intent: intentName(intent) }) + " ",
        use,
      ),
    );
  }
  if (message.operator_answer) {
    operatorAnswers.set(message.message_id, message.operator_answer);
    item.append(
      el("p", {
        class: "operator-answer small",
        testid: "operator-answer",
        text: _("Operator: {answer}", { answer: message.operator_answer }),
      }),
    );
  }
  const tools = el("div", { class: "message-tools" }, renderContext(message));
  if (canEdit) {
    const story = el("button", { type: "button", class: "small", testid: "make-story", text: _("Make a test story") });
    story.addEventListener("click", () => makeStory(message, story));
    tools.append(story);
  }
  item.append(tools);
  return item;
}

function renderGroup(group) {
  const all = el("input", {
    type: "checkbox",
    testid: "group-select",
    "aria-label": ngettext("Select the {n} message", "Select all {n} messages", group.size),
  });
  const list = el("ul", { class: "group-messages" }, group.messages.map(renderMessage));
  all.addEventListener("change", () => {
    for (const box of list.querySelectorAll('[data-testid="message-select"]')) {
      box.checked = all.checked;
      select(box, Number(box.dataset.message));
    }
  });
  const head = el(
    "header",
    { class: "group-head" },
    el("label", { class: "check" }, all, el("b", { text: group.label, testid: "group-label" })),
    el("span", { class: "count", text: group.size, testid: "group-size", title: _("messages in this group") }),
    group.suggested_intent
      ? el("span", { class: "tag", text: _("bot thought: {intent}", { intent: intentName(group.suggested_intent) }) })
      : null,
  );
  return el("li", { class: "group card", testid: "group" }, head, list);
}

async function loadInbox() {
  const since = part(document, "inbox-since").value;
  const data = await guarded(() => get(`/api/editor/inbox${since ? `?since=${encodeURIComponent(since)}` : ""}`));
  if (!data) return;
  selected.clear();
  updateSelection();
  part(document, "inbox-total").textContent = String(data.total);
  part(document, "inbox-empty").hidden = data.total > 0;
  part(document, "groups").replaceChildren(...data.groups.map(renderGroup));
}

async function loadIntents() {
  const data = await guarded(() => get("/api/editor/intents"));
  if (!data) return;
  document
    .getElementById("intent-names")
    .replaceChildren(...data.intents.map((i) => el("option", { value: i.name, label: intentName(i.name) })));
}

// ---- labels ----------------------------------------------------------------------------

function showActionFields() {
  const action = part(document, "label-action").value;
  const form = part(document, "label-form");
  form.querySelector('[data-part="intent"]').hidden = action === "out_of_scope" || action === "ignore";
  form.querySelector('[data-part="new-intent"]').hidden = action !== "new_intent";
}

function describeWrite(result) {
  const annotations = result.annotations;
  if (!result.written) {
    return annotations[0]?.status === "proposed"
      ? ngettext("Proposed {n} label; an editor reviews it.", "Proposed {n} labels; an editor reviews them.", annotations.length)
      : ngettext("Marked {n} message.", "Marked {n} messages.", annotations.length);
  }
  const skipped = Object.keys(result.written.skipped).length;
  const added = ngettext("Added {n} example to {file}.", "Added {n} examples to {file}.", result.written.added.length, {
    file: result.written.file,
  });
  const kept = ngettext("{n} skipped (already there).", "{n} skipped (already there).", skipped);
  return skipped ? [added, kept].join(" ") : added;
}

async function submitLabel(event) {
  event.preventDefault();
  const action = part(document, "label-action").value;
  const body = {
    message_ids: [...selected],
    action,
    confirm_personal_data: part(document, "label-keep-personal-data")?.checked ?? false,
  };
  const intent = part(document, "label-intent").value.trim();
  if (action === "assign" || action === "new_intent") body.intent = intent || null;
  if (action === "new_intent") {
    body.response = part(document, "label-response").value.trim() || null;
    body.file = part(document, "label-file").value.trim() || null;
  }
  const button = part(document, "label-submit");
  button.disabled = true;
  const result = await guarded(() => post("/api/editor/annotations", body));
  if (result) {
    selected.clear(); // those messages leave the inbox
    part(document, "label-response").value = "";
    await Promise.all([loadInbox(), loadIntents(), canEdit ? loadProposals() : null]);
    setText(part(document, "label-result"), describeWrite(result));
  }
  updateSelection();
}

// ---- proposals -------------------------------------------------------------------------

async function loadProposals() {
  const rows = await guarded(() => get("/api/editor/annotations?status=proposed"));
  if (!rows) return;
  part(document, "proposal-count").textContent = String(rows.length);
  part(document, "proposals-empty").hidden = rows.length > 0;
  const list = part(document, "proposal-list");
  list.replaceChildren(
    ...rows.map((row) => {
      const box = el("input", { type: "checkbox", testid: "proposal-select", dataset: { id: String(row.id) } });
      const actions = { assign: _("add to"), new_intent: _("new intent"), out_of_scope: _("out of scope"), ignore: _("ignore") };
      const verb = actions[row.action] ?? row.action;
      const what = row.action === "assign" || row.action === "new_intent" ? `${verb} → ${intentName(row.intent)}` : verb;
      return el(
        "li",
        { class: "proposal", testid: "proposal" },
        el("label", { class: "check" }, box, el("span", { text: row.text })),
        el("span", { class: "tag", text: what }),
      );
    }),
  );
  const update = () => {
    const any = list.querySelector("input:checked") !== null;
    part(document, "approve").disabled = !any;
    part(document, "reject").disabled = !any;
  };
  list.onchange = update;
  update();
}

async function review(approve) {
  const ids = [...part(document, "proposal-list").querySelectorAll("input:checked")].map((b) => Number(b.dataset.id));
  const result = await guarded(() => post(`/api/editor/annotations/${approve ? "approve" : "reject"}`, { ids }));
  if (result) {
    toast(
      approve
        ? ngettext("Approved {n} proposal", "Approved {n} proposals", ids.length)
        : ngettext("Rejected {n} proposal", "Rejected {n} proposals", ids.length),
    );
    await Promise.all([loadProposals(), loadInbox(), loadIntents()]);
  }
}

// ---- training, gate, publish -----------------------------------------------------------

function percent(value) {
  return new Intl.NumberFormat(language, {
    style: "percent",
    minimumFractionDigits: 1,
    maximumFractionDigits: 1,
  }).format(value);
}

function rows(listName, items, text) {
  const shown = items.length ? items.map((item) => el("li", { text: text(item) })) : [el("li", { class: "muted", text: _("none") })];
  part(document, listName).replaceChildren(...shown);
}

function renderGate(job) {
  const gate = job.gate;
  const box = part(document, "gate");
  box.hidden = !gate;
  if (!gate) return;
  box.dataset.passed = String(gate.passed);
  const scores = { candidate: percent(gate.candidate_accuracy), service: percent(gate.service_accuracy) };
  let verdict;
  if (!gate.passed) {
    verdict = _("Gate refused: the new model is worse, {candidate} vs {service} in service, more than the allowed {margin} lower", {
      ...scores,
      margin: percent(gate.max_regression),
    });
  } else if (gate.delta >= 0) verdict = _("Gate passed: the new model is as good or better ({candidate} vs {service})", scores);
  else verdict = _("Gate passed: the new model is slightly worse, within the margin ({candidate} vs {service})", scores);
  setText(part(document, "gate-verdict"), verdict);
  setText(part(document, "gate-notes"), (gate.notes ?? []).join(" "));
  part(document, "gate-service").textContent = `${percent(gate.service_accuracy)} (${gate.service_version ?? "?"})`;
  part(document, "gate-candidate").textContent = `${percent(gate.candidate_accuracy)} (${gate.delta >= 0 ? "+" : ""}${percent(gate.delta)})`;
  part(document, "gate-messages").textContent = _("{examples} examples in {folds} folds + {inbox} labelled inbox messages", {
    examples: gate.cross_validation_messages,
    folds: gate.folds,
    inbox: gate.inbox_messages,
  });
  const change = (row) => `${intentName(row.intent)}: ${percent(row.service)} → ${percent(row.candidate)} (${row.support})`;
  rows("gate-better", gate.better, change);
  rows("gate-worse", gate.worse, change);
  rows("gate-fixed", gate.fixed, (m) =>
    _("{text} → {now} (was {before})", { text: m.text, now: intentName(m.candidate), before: intentName(m.service) }),
  );
  rows("gate-broken", gate.broken, (m) =>
    _("{text} → {now} (was {before}, should be {right})", {
      text: m.text,
      now: intentName(m.candidate),
      before: intentName(m.service),
      right: intentName(m.intent),
    }),
  );
  const override = box.querySelector('[data-part="override"]');
  override.hidden = gate.passed;
  const publish = part(document, "publish");
  const refresh = () => {
    publish.disabled = Boolean(job.published) || (!gate.passed && !part(document, "override").checked);
  };
  part(document, "override").onchange = refresh;
  publish.textContent = gate.passed ? _("Publish") : _("Publish anyway");
  refresh();
  if (job.published) setText(part(document, "publish-result"), _("Model {version} is in service.", { version: job.published }));
}

function renderJob(job) {
  const training = part(document, "training");
  training.hidden = !job || job.status === "idle";
  if (!job || job.status === "idle") return;
  part(document, "train-progress").value = job.progress;
  const phase =
    job.status === "failed"
      ? _("Training failed: {problem}", { problem: job.error })
      : job.status === "done"
        ? _("Done.")
        : job.phase;
  part(document, "train-phase").textContent = phase;
  part(document, "train").disabled = job.status === "running";
  if (job.status !== "running") renderGate(job);
}

async function pollTraining() {
  let failures = 0;
  for (;;) {
    let job;
    try {
      job = await get("/api/editor/train");
      failures = 0;
    } catch (error) {
      // A busy server or a dropped connection: keep asking for a while before giving up.
      if (error instanceof ApiError && error.status === 401) return;
      failures += 1;
      if (failures === 1 || failures >= 20) toast(explain(error), "error");
      if (failures >= 20) return;
    }
    if (job) {
      renderJob(job);
      if (job.status !== "running") return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function train() {
  part(document, "gate").hidden = true;
  part(document, "publish-result").hidden = true;
  const job = await guarded(() => post("/api/editor/train"));
  if (job) {
    renderJob(job);
    await pollTraining();
  }
}

async function publish() {
  const override = part(document, "override").checked;
  part(document, "publish").disabled = true;
  const result = await guarded(() => post("/api/editor/publish", { override }));
  if (result) {
    setText(
      part(document, "publish-result"),
      result.overridden
        ? _("Model {version} is in service (gate overridden).", { version: result.version })
        : _("Model {version} is in service.", { version: result.version }),
    );
    part(document, "model-version").textContent = _("model {version}", { version: result.version });
    toast(_("Published: the bot answers with the new model now"));
  } else {
    part(document, "publish").disabled = false;
  }
}

// ---- start -----------------------------------------------------------------------------

part(document, "label-action").addEventListener("change", () => {
  showActionFields();
  offerCandidateAnswer();
});
part(document, "label-form").addEventListener("submit", submitLabel);
part(document, "inbox-filter").addEventListener("submit", (event) => {
  event.preventDefault();
  loadInbox();
});
showActionFields();
updateSelection();
loadInbox();
loadIntents();
if (canEdit) {
  part(document, "approve").addEventListener("click", () => review(true));
  part(document, "reject").addEventListener("click", () => review(false));
  part(document, "train").addEventListener("click", train);
  part(document, "publish").addEventListener("click", publish);
  loadProposals();
  pollTraining();
}
root.dataset.ready = "true";
