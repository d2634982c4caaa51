// Shared by the pages: the credential a page signed in with, API calls, live streams.
// No framework: each page renders its own parts with these helpers.
"use strict";

const SG = (() => {
  // A credential lives in the tab (sessionStorage) under the page's role, never in a URL
  // query, a cookie or the server's logs. A company's site hands the widget its customer's
  // token in the URL fragment (#token=...), which browsers never send to a server.
  const storageKey = (role) => `supportgraph.${role}.credential`;

  function credential(role) {
    const fragment = new URLSearchParams(location.hash.slice(1));
    const handed = fragment.get("token");
    if (handed) {
      sessionStorage.setItem(storageKey(role), JSON.stringify({ token: handed }));
      history.replaceState(null, "", location.pathname + location.search);
    }
    const stored = sessionStorage.getItem(storageKey(role));
    return stored ? JSON.parse(stored) : null;
  }

  function remember(role, signedIn) {
    sessionStorage.setItem(storageKey(role), JSON.stringify(signedIn));
  }

  function forget(role) {
    sessionStorage.removeItem(storageKey(role));
  }

  class ApiError extends Error {
    constructor(status, detail) {
      super(typeof detail === "string" ? detail : JSON.stringify(detail));
      this.status = status;
      this.detail = detail;
    }
  }

  // fetch with the page's credential; a refusal becomes an ApiError with the API's reason.
  async function api(role, path, { method = "GET", body, headers = {} } = {}) {
    const signedIn = credential(role);
    const sent = { ...headers };
    if (signedIn) sent.Authorization = `Bearer ${signedIn.token}`;
    if (body !== undefined) sent["Content-Type"] = "application/json";
    const response = await fetch(path, {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, data && data.detail);
    return data;
  }

  // A server-sent event stream read with fetch (EventSource cannot send a bearer token).
  // Reconnects after a dropped connection; returns a function that stops it.
  function stream(role, path, onEvent, { onError = () => {}, retryMs = 2000 } = {}) {
    let stopped = false;
    let controller = null;
    async function run() {
      while (!stopped) {
        controller = new AbortController();
        try {
          const signedIn = credential(role);
          const response = await fetch(path, {
            headers: signedIn ? { Authorization: `Bearer ${signedIn.token}` } : {},
            signal: controller.signal,
          });
          if (!response.ok) {
            const text = await response.text();
            throw new ApiError(response.status, text ? JSON.parse(text).detail : "");
          }
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end;
            while ((end = buffer.indexOf("\n\n")) >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const event = { event: "message", data: "" };
              for (const line of block.split("\n")) {
                const colon = line.indexOf(":");
                if (colon <= 0) continue;
                const field = line.slice(0, colon);
                const content = line.slice(colon + 1).replace(/^ /, "");
                if (field === "data") event.data += content;
                else event[field] = content;
              }
              if (event.data) onEvent(event.event, JSON.parse(event.data));
            }
          }
        } catch (error) {
          if (stopped || error.name === "AbortError") return;
          onError(error);
          if (error instanceof ApiError && error.status < 500 && error.status !== 429) return;
        }
        await new Promise((resolve) => setTimeout(resolve, retryMs));
      }
    }
    run();
    return () => {
      stopped = true;
      if (controller) controller.abort();
    };
  }

  // The sign-in panel: paste a token or key, or (on the embedded default) a demo identity.
  async function signIn(role, container, { title, demoChoices }) {
    container.replaceChildren();
    const form = el("form", { class: "sign-in", "aria-labelledby": "sign-in-title" });
    form.append(el("h2", { id: "sign-in-title" }, title));
    const label = el("label", { for: "credential" }, "Token or API key");
    const input = el("input", { id: "credential", type: "password", autocomplete: "off" });
    const submit = el("button", { type: "submit" }, "Sign in");
    form.append(label, input, submit);
    container.append(form);
    const done = new Promise((resolve) => {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!input.value.trim()) return;
        remember(role, { token: input.value.trim() });
        resolve(credential(role));
      });
      api(role, "/v1/demo")
        .then((demo) => {
          if (!demo.enabled) return;
          const demoBox = el("div", { class: "demo", role: "group", "aria-label": "Demo sign-in" });
          demoBox.append(el("p", {}, "Demo on this machine: sign in as"));
          for (const choice of demoChoices(demo)) {
            const button = el("button", { type: "button", "data-demo": choice.subject }, choice.label);
            button.addEventListener("click", async () => {
              const signedIn = await api(role, "/v1/demo/sign-in", {
                method: "POST",
                body: { role: choice.role, subject: choice.subject },
              });
              remember(role, signedIn);
              resolve(signedIn);
            });
            demoBox.append(button);
          }
          form.append(demoBox);
        })
        .catch(() => {});
    });
    const signedIn = await done;
    container.replaceChildren();
    return signedIn;
  }

  // A DOM element: el("a", {href: "/x"}, "text", child, ...). Text is never parsed as HTML.
  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === false || value === null || value === undefined) continue;
      node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function money(value) {
    return Number(value).toLocaleString("en-US", { style: "currency", currency: "USD" });
  }

  return { credential, remember, forget, api, stream, signIn, el, money, ApiError };
})();
