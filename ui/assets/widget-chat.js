// The chat inside the widget's frame. Everything shown is built with DOM calls and
// textContent, never innerHTML, so document text cannot become markup here.
(() => {
  const log = document.getElementById("w-log");
  const form = document.getElementById("w-form");
  const input = document.getElementById("w-question");
  const send = document.getElementById("w-send");
  const history = [];
  // The reader key the loader passed in the fragment; taken out of the address at once.
  const key = new URLSearchParams(location.hash.slice(1)).get("key") || "";
  if (location.hash) window.history.replaceState(null, "", location.pathname);

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const sourceHref = (c) =>
    `/sources/${encodeURIComponent(c.doc_id)}?start=${c.start}&end=${c.end}#cited`;

  const link = (href, text, title) => {
    const a = el("a", "", text);
    a.href = href;
    a.target = "_blank";
    a.rel = "noopener";
    if (title) a.title = title;
    return a;
  };

  // Answer text with each [n] that has a citation made a link to the cited passage.
  function answerText(answer) {
    const cited = new Map(answer.citations.map((c) => [c.n, c]));
    const box = el("div", "w-text");
    let last = 0;
    for (const match of answer.answer.matchAll(/\[(\d+)\]/g)) {
      const c = cited.get(Number(match[1]));
      if (!c) continue;
      box.append(answer.answer.slice(last, match.index), link(sourceHref(c), `[${c.n}]`, c.title));
      last = match.index + match[0].length;
    }
    box.append(answer.answer.slice(last));
    return box;
  }

  function sourcesList(answer) {
    const cards = answer.refused
      ? answer.passages.map((p, i) => ({ ...p, n: i + 1 }))
      : [...new Map(answer.citations.map((c) => [c.n, c])).values()].sort((a, b) => a.n - b.n);
    const box = el("details", "w-sources");
    box.open = !answer.refused;
    box.append(el("summary", "", answer.refused ? "Nearest passages" : "Sources"));
    const list = el("ol");
    for (const card of cards) {
      const item = el("li");
      item.append(link(sourceHref(card), `[${card.n}] ${card.title}`));
      list.append(item);
    }
    box.append(list);
    return box;
  }

  function footer(answer) {
    const parts = [`answered by ${answer.backend}`];
    if (answer.timings.total !== undefined) parts.push(`${answer.timings.total.toFixed(1)} s`);
    if (answer.refused) parts.push("not in the documents");
    else {
      const count = new Set(answer.citations.map((c) => c.n)).size;
      parts.push(`${count} source${count === 1 ? "" : "s"}`);
    }
    const removed = (answer.removed_claims || []).length;
    if (removed) parts.push(`${removed} unsupported statement${removed === 1 ? "" : "s"} removed`);
    return el("div", "w-footer", parts.join(" · "));
  }

  function showAnswer(bubble, answer) {
    bubble.replaceChildren();
    bubble.classList.remove("w-streaming");
    if (answer.refused) {
      const notice = el("div", "w-refusal");
      notice.append(el("strong", "", "Not in the documents"), el("p", "", answer.answer));
      bubble.append(notice);
    } else {
      bubble.append(answerText(answer));
    }
    if (answer.refused ? answer.passages.length : answer.citations.length) bubble.append(sourcesList(answer));
    bubble.append(footer(answer));
  }

  // Server-sent events from a fetch body: EventSource cannot POST.
  async function* events(response) {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    let event = "message";
    let data = [];
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop();
      for (const line of lines) {
        if (line === "") {
          if (data.length) yield { event, data: data.join("\n") };
          event = "message";
          data = [];
        } else if (line.startsWith("event:")) {
          event = line.slice(6).trim();
        } else if (line.startsWith("data:")) {
          data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
        }
      }
    }
  }

  async function ask(question) {
    log.querySelector(".w-hello")?.remove();
    log.append(el("li", "w-user", question));
    const bubble = el("li", "w-bot w-streaming");
    log.append(bubble);
    bubble.scrollIntoView({ block: "end" });
    send.disabled = true;
    let text = "";
    try {
      const response = await fetch("/widget/ask/stream", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...(key ? { "X-API-Key": key } : {}) },
        body: JSON.stringify({ question, history }),
      });
      if (!response.ok) {
        const problem = await response.json().catch(() => ({}));
        throw new Error(problem.detail || `the server answered ${response.status}`);
      }
      for await (const { event, data } of events(response)) {
        if (event === "token") {
          text += data;
          bubble.textContent = text;
        } else if (event === "answer") {
          const answer = JSON.parse(data);
          showAnswer(bubble, answer);
          history.push({ role: "user", content: question }, { role: "assistant", content: answer.answer });
        } else if (event === "error") {
          throw new Error(JSON.parse(data).detail);
        }
        bubble.scrollIntoView({ block: "end" });
      }
    } catch (error) {
      bubble.classList.remove("w-streaming");
      bubble.replaceChildren(el("div", "w-error", `Could not answer: ${error.message}`));
    } finally {
      send.disabled = false;
      input.focus();
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || send.disabled) return;
    input.value = "";
    ask(question);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  for (const button of document.querySelectorAll(".w-example")) {
    button.addEventListener("click", () => ask(button.textContent));
  }
})();
