// The snippet a company pastes into its site:
//   <script src="https://support.example.com/widget.js" data-token="<the customer's signed token>"></script>
// It adds a chat button that opens /chat in a panel. The token travels in the URL fragment,
// which browsers never send to a server; the page the customer is on goes as metadata.page_url.
"use strict";

(() => {
  const script = document.currentScript;
  const origin = new URL(script.src).origin;
  const token = script.dataset.token;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = script.dataset.label || "Chat with support";
  button.setAttribute("aria-expanded", "false");
  button.style.cssText =
    "position:fixed;right:1rem;bottom:1rem;z-index:2147483000;padding:.7rem 1.1rem;border:0;" +
    "border-radius:999px;background:#0b5cad;color:#fff;font:600 16px system-ui,sans-serif;cursor:pointer";
  let frame = null;
  button.addEventListener("click", () => {
    if (!frame) {
      const chat = new URL("/chat", origin);
      chat.searchParams.set("page_url", location.pathname);
      if (token) chat.hash = `token=${encodeURIComponent(token)}`;
      frame = document.createElement("iframe");
      frame.title = "Support chat";
      frame.src = chat.toString();
      frame.style.cssText =
        "position:fixed;right:1rem;bottom:4.5rem;z-index:2147483000;width:min(24rem,calc(100vw - 2rem));" +
        "height:min(36rem,calc(100vh - 6rem));border:1px solid #d0d5db;border-radius:12px;background:#fff";
      document.body.append(frame);
    } else {
      frame.hidden = !frame.hidden;
    }
    button.setAttribute("aria-expanded", String(!frame.hidden));
  });
  document.body.append(button);
})();
