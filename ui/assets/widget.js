// The embeddable widget's loader: <script src="http://HOST/widget.js" data-title="…" async></script>
// (with `data-key="READER KEY"` when the server asks for keys).
// Adds a chat button and a panel inside a Shadow DOM (the host page's styles and ours
// cannot touch each other); the panel frames HOST/widget, so no CORS is involved.
(() => {
  const script = document.currentScript;
  if (!script || window.__ragWidgetLoaded) return;
  window.__ragWidgetLoaded = true;
  const origin = new URL(script.src, location.href).origin;
  const key = script.dataset.key || "";
  const LABELS = {
    en: { title: "Ask the documents", close: "Close" },
    de: { title: "Fragen an die Dokumente", close: "Schließen" },
  };
  // The frame has the final word: it tells the language it shows (the reader may switch it there).
  let lang = navigator.language.toLowerCase().startsWith("de") ? "de" : "en";

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

  const header = document.createElement("header");
  const heading = document.createElement("h2");
  const close = document.createElement("button");
  close.type = "button";
  close.className = "close";
  close.textContent = "×";
  header.append(heading, close);
  panel.append(header);

  const launcher = document.createElement("button");
  launcher.type = "button";
  launcher.className = "launcher";
  launcher.setAttribute("aria-expanded", "false");
  const icon = document.createElement("span");
  icon.className = "icon";
  icon.setAttribute("aria-hidden", "true");
  launcher.append(icon);

  let frame = null;
  const label = () => {
    const title = script.dataset.title || LABELS[lang].title;
    heading.textContent = title;
    panel.setAttribute("aria-label", title);
    launcher.setAttribute("aria-label", title);
    launcher.title = title;
    close.setAttribute("aria-label", LABELS[lang].close);
    if (frame) frame.title = title;
  };

  const toggle = (open) => {
    const first = open && !frame;
    // The chat page loads on first open only: most visitors of the host page never open it.
    if (first) {
      frame = document.createElement("iframe");
      // In the fragment, which is never sent to a server or written to its logs. The host's
      // origin is where the frame sends its messages (Escape, the language shown).
      const params = new URLSearchParams({ host: location.origin, ...(key ? { key } : {}) });
      frame.src = `${origin}/widget#${params}`;
      panel.append(frame);
      label();
    }
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    launcher.classList.toggle("open", open);
    if (open) {
      frame.focus();
      // A new frame focuses its input itself; one loaded before is asked to.
      if (!first) frame.contentWindow.postMessage({ ragWidget: "open" }, origin);
    } else {
      launcher.focus();
    }
  };
  launcher.addEventListener("click", () => toggle(panel.hidden));
  close.addEventListener("click", () => toggle(false));
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") toggle(false);
  });
  window.addEventListener("message", (event) => {
    if (!frame || event.source !== frame.contentWindow || event.origin !== origin) return;
    if (event.data?.ragWidget === "close") toggle(false);
    if (Object.hasOwn(LABELS, event.data?.lang ?? "")) {
      lang = event.data.lang;
      label();
    }
  });

  label();
  root.append(style, panel, launcher);
  const attach = () => document.body.append(host);
  document.body ? attach() : document.addEventListener("DOMContentLoaded", attach);
})();
