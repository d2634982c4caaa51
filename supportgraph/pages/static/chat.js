// The customer's chat: messages, proposals to confirm, cited sources, the handoff, CSAT.
// Everything shown comes from the API; the conversation view arrives over a live stream.
"use strict";

(() => {
  const ROLE = "customer";
  const ticketKey = "supportgraph.customer.ticket";
  const app = document.getElementById("app");
  const who = document.getElementById("who");
  const params = new URLSearchParams(location.search);

  const state = {
    ticketId: params.get("ticket") || sessionStorage.getItem(ticketKey),
    conversation: null,
    sources: {}, // AI message id -> the sources its answer cited
    results: {}, // action id -> the sentence the action request returned
    stopStream: null,
    busy: false,
  };

  const { el } = SG;
  const messages = el("ol", { id: "messages", "aria-label": "Conversation" });
  const proposals = el("div", { id: "proposals" });
  const handoff = el("div", { id: "handoff", role: "status", hidden: true });
  const csat = el("section", { id: "csat", hidden: true, "aria-labelledby": "csat-title" });
  const notice = el("div", { id: "notice", role: "alert", hidden: true });
  const input = el("textarea", {
    id: "message-input",
    rows: 2,
    maxlength: 4000,
    placeholder: "Ask about an order, a refund, your account…",
  });
  const send = el("button", { id: "send", type: "submit" }, "Send");
  const composer = el(
    "form",
    { id: "composer" },
    el("label", { for: "message-input", class: "visually-hidden" }, "Your message"),
    input,
    send,
  );

  function say(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function sourceLink(source) {
    if (source.kind !== "article") return el("span", {}, source.title);
    const [article, section] = source.id.split("#");
    const href = `/help/${encodeURIComponent(article)}${section ? `#${section}` : ""}`;
    return el("a", { href, target: "_blank", rel: "noopener" }, source.title);
  }

  function messageItem(message) {
    const label = { customer: "You", ai: "Assistant", human_agent: "Support team" }[message.role] || message.role;
    const item = el(
      "li",
      { class: `message ${message.role}`, "data-role": message.role, "data-id": message.id },
      el("span", { class: "author" }, label),
      el("p", { class: "content" }, message.content),
    );
    const cited = (state.sources[message.id] || []).filter((source) => source.kind === "article");
    if (cited.length) {
      const list = el("ul", { class: "sources", "aria-label": "Sources" });
      for (const source of cited) list.append(el("li", {}, sourceLink(source)));
      item.append(list);
    }
    return item;
  }

  function proposalBox(action) {
    const order = action.arguments.order_id || "";
    const amount = action.arguments.amount ? SG.money(action.arguments.amount) : "";
    const what = {
      process_refund: `Refund ${amount} for order ${order}`,
      cancel_order: `Cancel order ${order}${amount ? ` and refund ${amount}` : ""}`,
      send_password_reset: "Send a password reset link",
    }[action.action] || `${action.action.replaceAll("_", " ")} ${order}`.trim();
    const box = el("div", {
      class: "proposal",
      "data-action-id": action.id,
      "data-action": action.action,
      "data-order-id": order,
      "data-amount": action.arguments.amount || "",
      "data-status": action.status,
    });
    box.append(el("p", { class: "what" }, what));
    if (action.status === "proposed" && action.requires_human) {
      box.append(el("p", { class: "muted" }, "A team member reviews this before it happens."));
    } else if (action.status === "proposed") {
      box.append(el("p", { class: "muted" }, action.policy_reason));
      const confirm = el("button", { type: "button", class: "confirm-action" }, "Confirm");
      const decline = el("button", { type: "button", class: "decline-action secondary" }, "No thanks");
      confirm.addEventListener("click", () => confirmAction(action, box));
      decline.addEventListener("click", () => sendMessage("No, leave it as it is."));
      box.append(el("div", { class: "choices" }, confirm, decline));
    } else if (action.status === "executed") {
      box.append(el("p", { class: "done" }, state.results[action.id] || "Done."));
    } else {
      box.append(el("p", { class: "muted" }, `Not done (${action.status}): ${action.policy_reason}`));
    }
    return box;
  }

  function renderHandoff(conversation) {
    const waiting = conversation.queue;
    handoff.hidden = !waiting && !conversation.assigned_agent_id;
    handoff.replaceChildren();
    handoff.removeAttribute("data-queue-position");
    handoff.removeAttribute("data-estimated-wait");
    if (conversation.assigned_agent_id && conversation.status !== "resolved") {
      handoff.append(el("strong", {}, "A member of the team is with you now."));
    } else if (waiting) {
      handoff.setAttribute("data-queue-position", waiting.position);
      handoff.setAttribute("data-estimated-wait", waiting.estimated_wait_s ?? "");
      const wait =
        waiting.estimated_wait_s === null
          ? `No wait estimate yet (${waiting.basis}).`
          : `Estimated wait about ${Math.max(1, Math.round(waiting.estimated_wait_s / 60))} min.`;
      handoff.append(
        el("strong", {}, "Handing you to a person."),
        el("span", {}, ` You're number ${waiting.position} in the queue. ${wait}`),
      );
    }
  }

  function renderCsat(conversation) {
    const ask = conversation.status === "resolved";
    csat.hidden = !ask;
    if (!ask) return;
    csat.replaceChildren(el("h2", { id: "csat-title" }, "How did we do?"));
    if (conversation.csat_score) {
      csat.append(el("p", { class: "thanks" }, `Thanks, you rated this ${conversation.csat_score} of 5.`));
      return;
    }
    const scores = el("div", { class: "scores", role: "group", "aria-label": "Rate from 1 to 5" });
    for (let score = 1; score <= 5; score += 1) {
      const button = el("button", { type: "button", "data-score": score, class: "secondary" }, String(score));
      button.addEventListener("click", () => rate(score));
      scores.append(button);
    }
    csat.append(scores, el("p", { class: "muted" }, "1 is very unhappy, 5 is very happy."));
  }

  function render(conversation) {
    state.conversation = conversation;
    messages.replaceChildren(...conversation.messages.map(messageItem));
    proposals.replaceChildren(...conversation.actions.map(proposalBox));
    renderHandoff(conversation);
    renderCsat(conversation);
    messages.lastElementChild?.scrollIntoView({ block: "end" });
  }

  function follow(ticketId) {
    if (state.stopStream) state.stopStream();
    state.ticketId = ticketId;
    sessionStorage.setItem(ticketKey, ticketId);
    state.stopStream = SG.stream(
      ROLE,
      `/v1/support/tickets/${encodeURIComponent(ticketId)}/events`,
      (name, data) => name === "conversation" && render(data),
      {
        onError: (error) => {
          if (error.status === 404 || error.status === 403) refuse(error);
          else say("Reconnecting…");
        },
      },
    );
  }

  function refuse(error) {
    if (state.stopStream) state.stopStream();
    state.stopStream = null;
    state.ticketId = null;
    sessionStorage.removeItem(ticketKey);
    messages.replaceChildren();
    proposals.replaceChildren();
    say(`That conversation can't be shown: ${error.message}`);
  }

  async function refresh() {
    if (!state.ticketId) return;
    try {
      render(await SG.api(ROLE, `/v1/support/tickets/${encodeURIComponent(state.ticketId)}/messages`));
    } catch (error) {
      if (error.status === 404 || error.status === 403) refuse(error);
      else say(error.message);
    }
  }

  function setBusy(busy) {
    state.busy = busy;
    send.disabled = busy;
    composer.setAttribute("aria-busy", busy ? "true" : "false");
  }

  async function sendMessage(text) {
    if (state.busy || !text.trim()) return;
    setBusy(true);
    say("");
    const metadata = params.get("page_url") ? { page_url: params.get("page_url") } : undefined;
    try {
      const reply = await SG.api(ROLE, "/v1/support/message", {
        method: "POST",
        body: { ticket_id: state.ticketId || undefined, message: text, channel: "web_chat", metadata },
      });
      if (!reply.escalated) state.sources[reply.message_id] = reply.sources; // a handoff cites nothing
      input.value = "";
      if (reply.ticket_id !== state.ticketId) follow(reply.ticket_id);
      await refresh();
    } catch (error) {
      say(error.status === 429 ? "You're sending messages quickly; wait a moment and try again." : error.message);
    } finally {
      setBusy(false);
      input.focus();
    }
  }

  async function confirmAction(action, box) {
    for (const button of box.querySelectorAll("button")) button.disabled = true;
    say("");
    try {
      const done = await SG.api(ROLE, "/v1/support/action", {
        method: "POST",
        body: {
          ticket_id: state.ticketId,
          action_id: action.id,
          action_type: action.action,
          parameters: action.arguments,
          confirmed_by_customer: true,
        },
      });
      if (done.result) state.results[action.id] = done.result;
      if (done.status !== "executed") say(done.error || done.reason);
      await refresh();
    } catch (error) {
      say(error.message);
      for (const button of box.querySelectorAll("button")) button.disabled = false;
    }
  }

  async function rate(score) {
    try {
      await SG.api(ROLE, "/v1/support/csat", { method: "POST", body: { ticket_id: state.ticketId, score } });
      await refresh();
    } catch (error) {
      say(error.message);
    }
  }

  function newConversation() {
    if (state.stopStream) state.stopStream();
    Object.assign(state, { ticketId: null, conversation: null, stopStream: null });
    sessionStorage.removeItem(ticketKey);
    messages.replaceChildren();
    proposals.replaceChildren();
    handoff.hidden = true;
    csat.hidden = true;
    say("");
    input.focus();
  }

  async function start() {
    const signedIn =
      SG.credential(ROLE) ||
      (await SG.signIn(ROLE, app, {
        title: "Sign in to chat",
        demoChoices: (demo) =>
          demo.customers.map((c) => ({ role: "customer", subject: c.id, label: `${c.name} (${c.id})` })),
      }));
    const fresh = el("button", { type: "button", class: "secondary", id: "new-conversation" }, "New conversation");
    const out = el("button", { type: "button", class: "secondary", id: "sign-out" }, "Sign out");
    fresh.addEventListener("click", newConversation);
    out.addEventListener("click", () => {
      SG.forget(ROLE);
      sessionStorage.removeItem(ticketKey);
      location.reload();
    });
    who.replaceChildren(el("span", {}, signedIn.subject || "signed in"), fresh, out);
    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      sendMessage(input.value);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        sendMessage(input.value);
      }
    });
    app.replaceChildren(
      el("section", { class: "chat", "aria-label": "Chat with support" }, messages, proposals, handoff, csat, notice, composer),
    );
    if (state.ticketId) {
      await refresh();
      if (state.ticketId) follow(state.ticketId);
    }
    input.focus();
  }

  start();
})();
