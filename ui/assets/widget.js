// The embeddable widget's loader: <script src="http://HOST/widget.js" data-title="…" async></script>
// (with `data-key="READER KEY"` when the server asks for keys).
// Adds a chat button and a panel inside a Shadow DOM (the host page's styles and ours
// cannot touch each other); the panel frames HOST/widget, so no CORS is involved.
(() => {
  const script = document.currentScript;
  if (!script || window.__ragWidgetLoaded) return;
  window.__ragWidgetLoaded = true;
  const origin = new URL(script.src, location.href).origin;
  const title = script.dataset.title || "Ask the documents";
  const key = script.dataset.key || "";

  const host = document.createElement("div");
  host.setAttribute("data-rag-widget", "");
  const root = host.attachShadow({ mode: "open" });

  const style = document.createElement("link");
  style.rel = "stylesheet";
  style.href = `${origin}/ui-assets/widget-launcher.css`;

  const panel = document.createElement("section");
  panel.className = "panel";
  panel.hidden = true;
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);

  const header = document.createElement("header");
  const heading = document.createElement("h2");
  heading.textContent = title;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.setAttribute("aria-label", "Close");
  close.textContent = "×";
  header.append(heading, close);
  panel.append(header);

  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.setAttribute("aria-label", title);
  launcher.setAttribute("aria-expanded", "false");
  launcher.title = title;
  const icon = document.createElement("span");
  icon.className = "icon";
  icon.setAttribute("aria-hidden", "true");
  launcher.append(icon);

  let frame = null;
  const toggle = (open) => {
    // The chat page loads on first open only: most visitors of the host page never open it.
    if (open && !frame) {
      frame = document.createElement("iframe");
      frame.title = title;
      // In the fragment, which is never sent to a server or written to its logs.
      frame.src = `${origin}/widget` + (key ? `#key=${encodeURIComponent(key)}` : "");
      panel.append(frame);
    }
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.classList.toggle("open", open);
  };
  launcher.addEventListener("click", () => toggle(panel.hidden));
  close.addEventListener("click", () => toggle(false));

  root.append(style, panel, launcher);
  const attach = () => document.body.append(host);
  document.body ? attach() : document.addEventListener("DOMContentLoaded", attach);
})();
