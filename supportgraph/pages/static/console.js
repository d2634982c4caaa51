// The human agents' console: the live queue and why each ticket is where it is, claiming,
// the handoff packet, the live conversation, replies, decisions on what policy left for a
// person, and resolving with the correction that feeds the learning loop.
"use strict";

(() => {
  const ROLE = "agent";
  const ticketKey = "supportgraph.agent.ticket";
  const agentKey = "supportgraph.agent.id";
  const app = document.getElementById("app");
  const who = document.getElementById("who");
  const { el } = SG;

  const CORRECTIONS = [
    ["none", "None: the AI got it right"],
    ["intent", "Intent: it misread the request"],
    ["answer", "Answer: the reply needed changing"],
    ["action", "Action: the wrong action was proposed"],
    ["unnecessary_escalation", "Unnecessary escalation"],
  ];
  const AUTHORS = { customer: "Customer", ai: "Assistant", human_agent: "Agent" };

  const state = { agentId: null, ticketId: null, stopQueue: null, stopTicket: null };

  const notice = el("div", { id: "notice", role: "alert", hidden: true });
  const status = el("p", { id: "status", role: "status", class: "muted" });
  const stage = el("div", { id: "stage" });
  const queue = el("ol", { id: "queue", "aria-label": "Tickets waiting for a person" });
  const ticket = el("section", { id: "ticket", "aria-labelledby": "ticket-title" });

  function say(text) {
    notice.textContent = text || "";
    notice.hidden = !text;
  }

  function label(name) {
    return name.replaceAll("_", " ");
  }

  function path(...parts) {
    return parts.map((part) => encodeURIComponent(part)).join("/");
  }

  // Which agent a credential signs in as: the demo says so; a token names it in `sub`.
  function subjectOf(signedIn) {
    if (signedIn.subject) return signedIn.subject;
    const parts = (signedIn.token || "").split(".");
    if (parts.length !== 3) return null;
    try {
      return JSON.parse(atob(parts[1].replaceAll("-", "+").replaceAll("_", "/"))).sub || null;
    } catch {
      return null;
    }
  }

  // An API key does not say whose it is: the agent names themselves (the API checks it).
  function askAgentId() {
    return new Promise((resolve) => {
      const input = el("input", { id: "agent-id", autocomplete: "username", required: true });
      const form = el(
        "form",
        { class: "sign-in", "aria-labelledby": "agent-id-title" },
        el("h2", { id: "agent-id-title" }, "Which agent are you?"),
        el("label", { for: "agent-id" }, "Agent id"),
        input,
        el("button", { type: "submit" }, "Continue"),
      );
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (input.value.trim()) resolve(input.value.trim());
      });
      stage.replaceChildren(form);
      input.focus();
    });
  }

  // ---- the queue ----------------------------------------------------------------------

  // Bars share one scale across the queue, so tickets compare at a glance.
  function priorityTerms(entry, scale) {
    const terms = Object.entries(entry.priority_terms).sort((a, b) => b[1] - a[1]);
    const list = el("ul", { class: "priority-terms", "aria-label": "Why it is here" });
    for (const [name, value] of terms) {
      const bar = el("span", { class: "bar", "aria-hidden": "true" });
      bar.style.width = `${Math.max(0, Math.min(100, (value / scale) * 100))}%`;
      list.append(
        el(
          "li",
          { "data-term": name, "data-value": value },
          el("span", { class: "term" }, label(name)),
          el("span", { class: "value" }, value.toFixed(2)),
          el("span", { class: "track" }, bar),
        ),
      );
    }
    return list;
  }

  function queueEntry(entry, scale) {
    const claim = el(
      "button",
      { type: "button", class: "claim", "aria-label": `Claim ticket ${entry.ticket_id}` },
      "Claim",
    );
    claim.addEventListener("click", () => claimTicket(entry.ticket_id, claim));
    const minutes = Math.round(entry.waiting_s / 60);
    return el(
      "li",
      { class: "queue-entry", "data-ticket-id": entry.ticket_id, "data-priority": entry.priority },
      el(
        "div",
        { class: "entry-head" },
        el("strong", {}, `#${entry.position} · ${label(entry.primary_intent || "unknown")}`),
        el("span", { class: "muted" }, entry.customer_id),
      ),
      el("p", { class: "reason" }, entry.reason || "Escalated"),
      entry.summary ? el("p", { class: "summary muted" }, entry.summary) : null,
      el(
        "p",
        { class: "muted" },
        `Priority ${entry.priority.toFixed(2)} · waiting ${minutes} min · ` +
          `order value ${SG.money(entry.order_value)}`,
      ),
      priorityTerms(entry, scale),
      claim,
    );
  }

  function renderQueue(entries) {
    if (!entries.length) {
      queue.replaceChildren(el("li", { class: "empty muted" }, "No tickets are waiting for you."));
      return;
    }
    const values = entries.flatMap((entry) => Object.values(entry.priority_terms));
    const scale = Math.max(0.01, ...values);
    queue.replaceChildren(...entries.map((entry) => queueEntry(entry, scale)));
  }

  function followQueue() {
    state.stopQueue = SG.stream(
      ROLE,
      `/v1/agents/queue/events?agent_id=${encodeURIComponent(state.agentId)}`,
      (name, data) => name === "queue" && renderQueue(data),
      { onError: (error) => say(`The queue stopped updating: ${error.message}`) },
    );
  }

  async function claimTicket(ticketId, button) {
    button.disabled = true;
    say("");
    try {
      await SG.api(ROLE, `/v1/agents/${path(state.agentId)}/claim`, {
        method: "POST",
        body: { ticket_id: ticketId },
      });
      await openTicket(ticketId);
    } catch (error) {
      say(error.status === 409 ? `Not claimed: ${error.message}` : error.message);
      button.disabled = false;
    }
  }

  // ---- the ticket: packet, approvals, transcript, reply, resolve ------------------------

  function row(term, ...details) {
    return [el("dt", {}, term), el("dd", {}, ...details)];
  }

  function list(items, render) {
    if (!items.length) return el("span", { class: "muted" }, "none");
    return el("ul", {}, ...items.map((item) => el("li", {}, ...[render(item)].flat())));
  }

  function actionLine(action) {
    const args = action.arguments || {};
    const what = [label(action.action), args.order_id, args.amount ? SG.money(args.amount) : ""];
    return [
      el("span", { class: "action-name" }, what.filter(Boolean).join(" ")),
      ` → ${action.status} `,
      el("code", {}, action.rule_id || ""),
      el("span", { class: "muted" }, ` ${action.reason || ""}`),
    ];
  }

  function intentLine(intent) {
    const name = label(intent.intent) + (intent.sub_intent ? ` / ${label(intent.sub_intent)}` : "");
    return `${name} — ${(intent.confidence * 100).toFixed(1)}% (${intent.classifier_used})`;
  }

  // How upset the customer read at each turn, as the escalation gate measured it
  // (0 calm, 1 very upset).
  function sentiments(view) {
    const turns = Object.fromEntries((view.messages || []).map((message) => [message.id, message.turn]));
    const items = (view.escalation_decisions || [])
      .filter((decision) => decision.signals?.negative_sentiment && turns[decision.message_id])
      .map((decision) => {
        const value = decision.signals.negative_sentiment.value;
        const turn = turns[decision.message_id];
        const mood = value >= 0.5 ? "upset" : value > 0 ? "unhappy" : "calm";
        const text = `turn ${turn}: ${value.toFixed(2)} ${mood}`;
        return el("li", { "data-turn": turn, "data-negative": value }, text);
      });
    if (!items.length) return el("span", { class: "muted" }, "not measured");
    return el("ol", { class: "sentiment" }, ...items);
  }

  function packet(view) {
    const handoff = view.handoff_summary;
    const box = el("div", { id: "packet", "aria-labelledby": "packet-title" });
    box.append(el("h3", { id: "packet-title" }, "Handoff packet"));
    if (!handoff) {
      box.append(el("p", { class: "muted" }, "No handoff packet was written for this ticket."));
      return box;
    }
    const entities = handoff.entities || {};
    const found = [
      ...(entities.order_ids || []).map((id) => `order ${id}`),
      ...(entities.amounts || []).map((amount) => SG.money(amount)),
      ...(entities.emails || []),
    ];
    box.append(
      el(
        "dl",
        {},
        ...row("Customer", handoff.customer_id),
        ...row("Why it came to a person", handoff.reason || "", " ", el("code", {}, handoff.rule_id || "")),
        ...row("Summary", handoff.summary || ""),
        ...row("Intents", list(handoff.intents || [], intentLine)),
        ...row("Entities", list(found, (item) => item)),
        ...row("Actions tried", list(handoff.actions || [], actionLine)),
        ...row("Negative sentiment by turn", sentiments(view)),
        ...row("Open question", handoff.open_question || ""),
        ...row("Suggested next step", el("strong", {}, handoff.suggested_next_step || "")),
      ),
    );
    return box;
  }

  function describe(action) {
    const args = action.arguments;
    const amount = args.amount ? SG.money(args.amount) : "";
    return {
      process_refund: `Refund ${amount} for order ${args.order_id}`,
      cancel_order: `Cancel order ${args.order_id}`,
      send_password_reset: "Send a password reset link",
      update_shipping_address: `Ship order ${args.order_id} to ${args.address}`,
    }[action.action] || label(action.action);
  }

  function approvalBox(action) {
    const box = el("div", {
      class: "approval",
      "data-action-id": action.id,
      "data-action": action.action,
      "data-status": action.status,
    });
    box.append(
      el("p", { class: "what" }, describe(action)),
      el("p", { class: "muted" }, action.policy_reason),
    );
    if (action.status !== "proposed") {
      const outcomes = { executed: "Approved and done.", denied: "Not done.", failed: "Failed." };
      const outcome = outcomes[action.status] || action.status;
      box.append(el("p", { class: `outcome ${action.status}` }, outcome));
      return box;
    }
    const noteId = `note-${action.id}`;
    const note = el("input", { id: noteId, maxlength: 500 });
    const approve = el("button", { type: "button", class: "approve" }, "Approve");
    const reject = el("button", { type: "button", class: "reject secondary" }, "Reject");
    approve.addEventListener("click", () => decide(action, "approve", note.value, box));
    reject.addEventListener("click", () => decide(action, "reject", note.value, box));
    box.append(
      el("label", { for: noteId }, "Note (a rejection's note is sent to the customer)"),
      note,
      el("div", { class: "choices" }, approve, reject),
    );
    return box;
  }

  async function decide(action, verdict, note, box) {
    for (const button of box.querySelectorAll("button")) button.disabled = true;
    say("");
    try {
      const done = await SG.api(
        ROLE,
        `/v1/agents/${path(state.agentId, "tickets", state.ticketId, "actions", action.id, verdict)}`,
        { method: "POST", body: note.trim() ? { note: note.trim() } : {} },
      );
      if (verdict === "approve" && done.action.status !== "executed") say(`Not done: ${done.reason}`);
      else status.textContent = `${describe(action)}: ${done.decision}.`;
    } catch (error) {
      say(error.message);
      for (const button of box.querySelectorAll("button")) button.disabled = false;
    }
  }

  function messageItem(message) {
    return el(
      "li",
      { class: `message ${message.role}`, "data-role": message.role, "data-id": message.id },
      el("span", { class: "author" }, `${AUTHORS[message.role] || message.role} · turn ${message.turn}`),
      el("p", { class: "content" }, message.content),
    );
  }

  function renderConversation(conversation, parts) {
    parts.transcript.replaceChildren(...conversation.messages.map(messageItem));
    // A box whose action did not change is kept, so a note being typed survives new messages.
    const shown = new Map(
      [...parts.approvalList.children].map((box) => [`${box.dataset.actionId}:${box.dataset.status}`, box]),
    );
    const waiting = conversation.actions.filter((action) => action.requires_human);
    parts.approvals.hidden = !waiting.length;
    parts.approvalList.replaceChildren(
      ...waiting.map((action) => shown.get(`${action.id}:${action.status}`) || approvalBox(action)),
    );
    parts.transcript.lastElementChild?.scrollIntoView({ block: "nearest" });
    if (conversation.status !== "assigned" || conversation.assigned_agent_id !== state.agentId) {
      parts.work.hidden = true;
      status.textContent = `Ticket ${conversation.ticket_id} is ${conversation.status}.`;
    }
  }

  function replyForm() {
    const input = el("textarea", { id: "reply-input", rows: 3, maxlength: 4000, required: true });
    const form = el(
      "form",
      { id: "reply" },
      el("label", { for: "reply-input" }, "Reply to the customer (Ctrl+Enter sends)"),
      input,
      el("button", { id: "send-reply", type: "submit" }, "Send reply"),
    );
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) form.requestSubmit();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!input.value.trim()) return;
      say("");
      try {
        await SG.api(ROLE, `/v1/agents/${path(state.agentId, "tickets", state.ticketId, "reply")}`, {
          method: "POST",
          body: { message: input.value },
        });
        input.value = "";
      } catch (error) {
        say(error.message);
      }
    });
    return form;
  }

  function resolveForm(view) {
    const intents = (view.handoff_summary?.intents || []).map((intent) => intent.intent);
    const known = [...new Set([view.primary_intent, ...intents].filter(Boolean))];
    const intent = el("input", {
      id: "correct-intent",
      list: "intent-choices",
      required: true,
      value: known[0] || "",
    });
    const answer = el("textarea", { id: "final-answer", rows: 3, maxlength: 4000, required: true });
    const correction = el("select", { id: "correction-type" });
    for (const [value, text] of CORRECTIONS) correction.append(el("option", { value }, text));
    const form = el(
      "form",
      { id: "resolve", "aria-labelledby": "resolve-title" },
      el("h3", { id: "resolve-title" }, "Resolve"),
      el("label", { for: "correct-intent" }, "Correct intent"),
      intent,
      el("datalist", { id: "intent-choices" }, ...known.map((name) => el("option", { value: name }))),
      el("label", { for: "final-answer" }, "Final answer (kept without personal data for similar questions)"),
      answer,
      el("label", { for: "correction-type" }, "What had to be corrected"),
      correction,
      el("button", { id: "resolve-ticket", type: "submit" }, "Resolve ticket"),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      say("");
      try {
        const where = path(state.agentId, "tickets", state.ticketId, "resolve");
        const done = await SG.api(ROLE, `/v1/agents/${where}`, {
          method: "POST",
          body: {
            correct_intent: intent.value.trim(),
            answer: answer.value,
            correction_type: correction.value,
          },
        });
        status.textContent = `Ticket ${done.ticket_id} resolved; the correction is stored for learning.`;
        closeTicket();
      } catch (error) {
        say(Array.isArray(error.detail) ? error.detail.map((item) => item.msg).join("; ") : error.message);
      }
    });
    return form;
  }

  function closeTicket() {
    if (state.stopTicket) state.stopTicket();
    state.stopTicket = null;
    state.ticketId = null;
    sessionStorage.removeItem(ticketKey);
    delete document.body.dataset.ticket;
    const work = ticket.querySelector(".work");
    if (work) work.hidden = true;
  }

  async function openTicket(ticketId) {
    const view = await SG.api(ROLE, `/v1/support/tickets/${path(ticketId)}`);
    if (view.status !== "assigned" || view.assigned_agent_id !== state.agentId) {
      sessionStorage.removeItem(ticketKey);
      return;
    }
    if (state.stopTicket) state.stopTicket();
    state.ticketId = ticketId;
    sessionStorage.setItem(ticketKey, ticketId);
    const parts = {
      transcript: el("ol", { id: "transcript", "aria-label": "Conversation", "aria-live": "polite" }),
      approvals: el("section", { id: "approvals", "aria-labelledby": "approvals-title", hidden: true }),
      approvalList: el("div", { class: "approval-list" }),
    };
    parts.approvals.append(
      el("h3", { id: "approvals-title" }, "Waiting for your decision"),
      parts.approvalList,
    );
    parts.work = el("div", { class: "work" }, replyForm(), resolveForm(view));
    ticket.replaceChildren(
      el(
        "h2",
        { id: "ticket-title", tabindex: -1 },
        `Ticket ${ticketId}`,
        el("span", { class: "muted" }, ` · ${view.customer_id}`),
      ),
      el(
        "div",
        { class: "ticket-body" },
        el("div", { class: "side" }, parts.approvals, packet(view)),
        el("div", { class: "talk" }, el("h3", {}, "Conversation"), parts.transcript, parts.work),
      ),
    );
    document.body.dataset.ticket = "open";
    status.textContent = `You hold ticket ${ticketId}.`;
    state.stopTicket = SG.stream(
      ROLE,
      `/v1/support/tickets/${path(ticketId)}/events`,
      (name, data) => name === "conversation" && renderConversation(data, parts),
      { onError: (error) => say(`The conversation stopped updating: ${error.message}`) },
    );
    ticket.querySelector("#ticket-title").focus();
  }

  // ---- signing in -----------------------------------------------------------------------

  function refuse(error) {
    SG.forget(ROLE);
    sessionStorage.removeItem(agentKey);
    sessionStorage.removeItem(ticketKey);
    say(`This console is for support agents; that credential was refused: ${error.message}`);
  }

  async function signIn() {
    for (;;) {
      const signedIn =
        SG.credential(ROLE) ||
        (await SG.signIn(ROLE, stage, {
          title: "Sign in to the agent console",
          demoChoices: (demo) => [
            { role: "agent", subject: demo.agent, label: `Agent (${demo.agent})` },
            { role: "agent", subject: "agent_demo_2", label: "Second agent (agent_demo_2)" },
          ],
        }));
      const agentId = sessionStorage.getItem(agentKey) || subjectOf(signedIn) || (await askAgentId());
      try {
        const agent = await SG.api(ROLE, `/v1/agents/${path(agentId)}`);
        sessionStorage.setItem(agentKey, agentId);
        say("");
        return agent;
      } catch (error) {
        refuse(error);
      }
    }
  }

  async function start() {
    app.replaceChildren(notice, stage);
    const agent = await signIn();
    state.agentId = agent.id;
    const out = el("button", { type: "button", class: "secondary", id: "sign-out" }, "Sign out");
    out.addEventListener("click", () => {
      SG.forget(ROLE);
      sessionStorage.removeItem(agentKey);
      sessionStorage.removeItem(ticketKey);
      location.reload();
    });
    who.replaceChildren(el("span", {}, `${agent.name} (${agent.id})`), out);
    ticket.replaceChildren(
      el("h2", { id: "ticket-title" }, "Ticket"),
      el("p", { class: "muted" }, "Claim a ticket from the queue to see its packet and conversation."),
    );
    stage.replaceChildren(
      el(
        "div",
        { class: "console" },
        el(
          "section",
          { id: "queue-panel", "aria-labelledby": "queue-title" },
          el("h2", { id: "queue-title" }, "Queue"),
          queue,
        ),
        el("div", { class: "desk" }, status, ticket),
      ),
    );
    followQueue();
    const held = sessionStorage.getItem(ticketKey);
    if (held) await openTicket(held).catch((error) => say(error.message));
  }

  start();
})();
