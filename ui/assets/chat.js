() => {
  // The chat's own behaviour, run once when the page loads (Gradio's `js`).
  // Copy buttons in answers copy the answer above their footer, without the [n] marks
  // (Gradio strips inline handlers and data attributes from messages, so this listens here).
  document.addEventListener("click", (event) => {
    const button = event.target.closest && event.target.closest("button.rag-copy");
    const answer = button && button.parentElement.previousElementSibling;
    if (!answer) return;
    const text = answer.innerText.replace(/\s*\[\d+\]/g, "").trim();
    navigator.clipboard.writeText(text).then(() => {
      button.classList.add("rag-copied");
      setTimeout(() => button.classList.remove("rag-copied"), 1200);
    });
  });
  // On a phone the conversation list would cover the chat: start with it folded.
  if (window.matchMedia("(max-width: 700px)").matches) {
    const fold = () => {
      const toggle = document.querySelector("#rag-sidebar button.toggle-button, .sidebar .toggle-button");
      const open = document.querySelector(".sidebar.open");
      if (toggle && open) toggle.click();
      return Boolean(toggle);
    };
    if (!fold()) setTimeout(fold, 500);
  }
}
