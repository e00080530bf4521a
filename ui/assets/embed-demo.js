// The demo page's copy button; the snippet is shown as text, so copy its text.
document.getElementById("copy-snippet")?.addEventListener("click", async (event) => {
  const button = event.currentTarget;
  const text = document.getElementById("snippet").textContent;
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(document.getElementById("snippet"));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    button.textContent = "Press Ctrl+C";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 2000);
});
