// The chat inside the widget's frame. Everything shown is built with DOM calls and
// textContent, never innerHTML, so document text cannot become markup here.
//
// The conversation is saved on the server (/api/conversations, under this browser's random
// client id); this frame's storage keeps only that id, the open conversation's id and the
// chosen language. The loader (widget.js) on the host page hears "close" and "lang" messages.
(() => {
  const TEXT = {
    en: {
      hello: "Ask about the documents. Every answer cites its sources; click a number to read the passage.",
      label: "Your question",
      placeholder: "Ask a question…",
      send: "Send",
      newConversation: "New conversation",
      language: "Language",
      sources: (n) => `Sources (${n})`,
      nearest: (n) => `Nearest passages (${n})`,
      closest: (n) => `Closest evidence (${n})`,
      notInDocuments: "Not in the documents",
      noClearAnswer: "No clear answer in the documents",
      quotedShort: "no answer stated; closest evidence quoted",
      answeredBy: (backend) => `answered by ${backend}`,
      notInDocumentsShort: "not in the documents",
      sourceCount: (n) => `${n} source${n === 1 ? "" : "s"}`,
      removed: (n) => `${n} unsupported statement${n === 1 ? "" : "s"} removed`,
      stopped: "stopped before the end",
      couldNotAnswer: (why) => `Could not answer: ${why}`,
      couldNotLoad: (why) => `The saved conversation could not be loaded: ${why}`,
      status: (code) => `the server answered ${code}`,
      // By the code of what went wrong: the server's (ui/errors.py) or the widget's own.
      errors: {
        CUT_OFF: "the answer was cut off",
        UNREACHABLE: "the server cannot be reached",
        NOT_ALLOWED: "the server does not accept this widget's key",
        CONVERSATION_BUSY: "this conversation is still answering its previous question: wait for it, then ask again",
        NO_DOCUMENTS: "there are no documents to answer from yet",
        NO_SUCH_CONVERSATION: "this conversation no longer exists",
        QUESTION_EMPTY: "the question is empty",
        QUESTION_TOO_LONG: "the question is too long: please shorten it",
        TOO_LARGE: "the question is too long: please shorten it",
        MODEL_UNAVAILABLE: "the model that answers cannot be reached just now: please try again later",
        ANSWER_FAILED: "something went wrong while answering: please try again",
      },
      helpful: "Helpful",
      notHelpful: "Not helpful",
      thanks: "Thank you for your feedback.",
      feedbackFailed: (why) => `Your feedback was not sent: ${why}`,
    },
    de: {
      hello: "Fragen Sie die Dokumente. Jede Antwort nennt ihre Quellen; ein Klick auf eine Nummer zeigt die Stelle.",
      label: "Ihre Frage",
      placeholder: "Frage stellen…",
      send: "Senden",
      newConversation: "Neues Gespräch",
      language: "Sprache",
      sources: (n) => `Quellen (${n})`,
      nearest: (n) => `Nächste Textstellen (${n})`,
      closest: (n) => `Nächste Belege (${n})`,
      notInDocuments: "Nicht in den Dokumenten",
      noClearAnswer: "Keine eindeutige Antwort in den Dokumenten",
      quotedShort: "keine Antwort belegt; nächster Beleg zitiert",
      answeredBy: (backend) => `beantwortet von ${backend}`,
      notInDocumentsShort: "nicht in den Dokumenten",
      sourceCount: (n) => `${n} ${n === 1 ? "Quelle" : "Quellen"}`,
      removed: (n) => `${n} ${n === 1 ? "unbelegte Aussage" : "unbelegte Aussagen"} entfernt`,
      stopped: "vor dem Ende abgebrochen",
      couldNotAnswer: (why) => `Keine Antwort möglich: ${why}`,
      couldNotLoad: (why) => `Das gespeicherte Gespräch ließ sich nicht laden: ${why}`,
      status: (code) => `der Server antwortete ${code}`,
      errors: {
        CUT_OFF: "die Antwort brach ab",
        UNREACHABLE: "der Server ist nicht erreichbar",
        NOT_ALLOWED: "der Server nimmt den Schlüssel dieses Widgets nicht an",
        CONVERSATION_BUSY: "dieses Gespräch beantwortet noch die vorige Frage: warten Sie diese ab und fragen Sie dann erneut",
        NO_DOCUMENTS: "es gibt noch keine Dokumente, aus denen sich antworten ließe",
        NO_SUCH_CONVERSATION: "dieses Gespräch gibt es nicht mehr",
        QUESTION_EMPTY: "die Frage ist leer",
        QUESTION_TOO_LONG: "die Frage ist zu lang: bitte kürzen Sie sie",
        TOO_LARGE: "die Frage ist zu lang: bitte kürzen Sie sie",
        MODEL_UNAVAILABLE: "das Modell, das antwortet, ist gerade nicht erreichbar: bitte versuchen Sie es später erneut",
        ANSWER_FAILED: "beim Antworten ging etwas schief: bitte versuchen Sie es erneut",
      },
      helpful: "Hilfreich",
      notHelpful: "Nicht hilfreich",
      thanks: "Danke für Ihre Rückmeldung.",
      feedbackFailed: (why) => `Ihre Rückmeldung wurde nicht gesendet: ${why}`,
    },
  };

  const log = document.getElementById("w-log");
  const form = document.getElementById("w-form");
  const input = document.getElementById("w-question");
  const send = document.getElementById("w-send");
  const fresh = document.getElementById("w-new");
  const languages = document.getElementById("w-langs");
  const examples = JSON.parse(log.dataset.examples);

  // The loader passes the reader key and the host page's origin in the fragment; taken out of the address at once.
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("key") || "";
  const hostOrigin = params.get("host") || "";
  if (location.hash) window.history.replaceState(null, "", location.pathname);
  const tell = (message) => {
    if (hostOrigin && window.parent !== window) window.parent.postMessage({ ragWidget: message, lang }, hostOrigin);
  };

  // A browser that blocks storage in frames of another site still gets a working chat, forgotten on reload.
  const storage = (() => {
    try {
      localStorage.getItem("rag-widget:client");
      return localStorage;
    } catch {
      return null;
    }
  })();
  const remembered = (name) => storage?.getItem(`rag-widget:${name}`) || "";
  const remember = (name, value) => {
    if (!storage) return;
    if (value) storage.setItem(`rag-widget:${name}`, value);
    else storage.removeItem(`rag-widget:${name}`);
  };

  // getRandomValues, not randomUUID: the latter is missing on a server reached over plain http.
  const clientId =
    remembered("client") ||
    Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  remember("client", clientId);
  let conversationId = remembered("conversation");
  const browserLang = navigator.language.toLowerCase().startsWith("de") ? "de" : "en";
  let lang = Object.hasOwn(TEXT, remembered("lang")) ? remembered("lang") : browserLang;
  let t = TEXT[lang];
  let turns = []; // as GET /api/conversations/{id} gives them
  let pending = []; // the question being answered and its streaming answer, as shown in the log

  const el = (tag, className, text) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  };

  const button = (className, text) => {
    const node = el("button", className, text);
    node.type = "button";
    return node;
  };

  // --- talking to the server -------------------------------------------------------------

  // A failure keeps its code, so that it is said in the language chosen when it is shown;
  // the server's own sentence stands in for a code this widget does not know.
  const failure = (code, detail, status) => Object.assign(new Error(detail), { code, status });
  const explain = (code, detail) => (code && Object.hasOwn(t.errors, code) ? t.errors[code] : detail);

  async function call(path, options = {}) {
    const headers = { "X-Client-Id": clientId, ...(key ? { "X-API-Key": key } : {}), ...options.headers };
    let response;
    try {
      response = await fetch(path, { ...options, headers });
    } catch {
      throw failure("UNREACHABLE", t.errors.UNREACHABLE);
    }
    if (!response.ok) {
      const problem = await response.json().catch(() => ({}));
      const code = [401, 403].includes(response.status) ? "NOT_ALLOWED" : problem.code;
      throw failure(code, problem.detail || t.status(response.status), response.status);
    }
    return response;
  }

  const post = (body, headers = {}) => ({
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });

  // The chat messages before a turn, as the server builds a conversation's history.
  const historyBefore = (turn) =>
    turns
      .slice(0, turns.indexOf(turn))
      .filter((before) => before.answer)
      .flatMap((before) => [
        { role: "user", content: before.question },
        { role: "assistant", content: before.answer.answer },
      ]);

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

  function openConversation(id) {
    conversationId = id;
    remember("conversation", id);
  }

  async function askServer(question) {
    if (!conversationId) openConversation((await (await call("/api/conversations", post({}))).json()).id);
    return call("/widget/ask/stream", post({ question, conversation_id: conversationId }, { Accept: "text/event-stream" }));
  }

  // --- showing turns ---------------------------------------------------------------------

  const sourceHref = (c) => `/sources/${encodeURIComponent(c.doc_id)}?start=${c.start}&end=${c.end}#cited`;

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

  function quotes(answer) {
    return answer.refused && (answer.citations || []).length > 0;
  }

  // Folded under the answer: the [n] links in the text already open each source.
  function sourcesList(answer, cards) {
    const box = el("details", "w-sources");
    const summary = !answer.refused ? t.sources : quotes(answer) ? t.closest : t.nearest;
    box.append(el("summary", "", summary(cards.length)));
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
    const parts = [t.answeredBy(answer.backend)];
    if (answer.timings.total !== undefined) parts.push(`${answer.timings.total.toFixed(1)} s`);
    if (answer.refused) parts.push(quotes(answer) ? t.quotedShort : t.notInDocumentsShort);
    else parts.push(t.sourceCount(new Set(answer.citations.map((c) => c.n)).size));
    const removed = (answer.removed_claims || []).length;
    if (removed) parts.push(t.removed(removed));
    return el("div", "w-footer", parts.join(" · "));
  }

  // A thumb drawn as SVG: emoji fonts are not everywhere.
  function thumb() {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", "M3 10h4v10H3zM7 10l4-7c1.4 0 2.5 1.1 2.5 2.5V9h5.2a2 2 0 0 1 2 2.3l-1.2 7a2 2 0 0 1-2 1.7H7");
    svg.append(path);
    return svg;
  }

  function votes(turn) {
    const box = el("div", "w-votes");
    const note = el("span", "w-note");
    note.setAttribute("role", "status");
    const choices = ["up", "down"].map((vote) => {
      const choice = button("w-vote");
      choice.dataset.vote = vote;
      choice.setAttribute("aria-label", vote === "up" ? t.helpful : t.notHelpful);
      choice.setAttribute("aria-pressed", String(turn.vote === vote));
      choice.append(thumb());
      choice.addEventListener("click", () => giveFeedback(turn, vote, choices, note));
      return choice;
    });
    box.append(...choices, note);
    return box;
  }

  async function giveFeedback(turn, vote, choices, note) {
    // The saved turn's id, or the one an earlier vote returned: the last vote per id is the reader's.
    const body = { answer: turn.answer, history: historyBefore(turn), vote, answer_id: turn.answer_id || null };
    try {
      turn.answer_id = (await (await call("/api/feedback", post(body))).json()).answer_id;
      turn.vote = vote;
      note.textContent = t.thanks;
    } catch (error) {
      note.textContent = t.feedbackFailed(explain(error.code, error.message));
    }
    for (const choice of choices) choice.setAttribute("aria-pressed", String(turn.vote === choice.dataset.vote));
  }

  function answerNode(turn) {
    const bubble = el("li", "w-bot");
    const answer = turn.answer;
    if (!answer) {
      bubble.append(el("div", "w-error", t.couldNotAnswer(explain(turn.error_code, turn.error))));
      return bubble;
    }
    if (answer.refused) {
      const notice = el("div", "w-refusal");
      // A refusal that quotes evidence links its [n] like an answer: the quote is in the documents.
      notice.append(el("strong", "", quotes(answer) ? t.noClearAnswer : t.notInDocuments));
      notice.append(quotes(answer) ? answerText(answer) : el("p", "", answer.answer));
      bubble.append(notice);
    } else {
      bubble.append(answerText(answer));
    }
    const cards = answer.refused && !quotes(answer)
      ? answer.passages.map((p, i) => ({ ...p, n: i + 1 }))
      : [...new Map(answer.citations.map((c) => [c.n, c])).values()].sort((a, b) => a.n - b.n);
    if (cards.length) bubble.append(sourcesList(answer, cards));
    if (turn.status === "stopped") {
      bubble.append(el("div", "w-footer", t.stopped));
    } else {
      bubble.append(footer(answer), votes(turn));
    }
    return bubble;
  }

  function hello() {
    const item = el("li", "w-hello");
    const list = el("div", "w-examples");
    for (const question of examples) {
      const example = button("w-example", question);
      example.addEventListener("click", () => ask(question));
      list.append(example);
    }
    item.append(el("p", "", t.hello), list);
    return item;
  }

  function showLog() {
    const shown = turns.flatMap((turn) => [el("li", "w-user", turn.question), answerNode(turn)]);
    log.replaceChildren(...(shown.length || pending.length ? shown : [hello()]), ...pending);
  }

  function label(chosen) {
    lang = chosen;
    t = TEXT[lang];
    document.documentElement.lang = lang;
    input.placeholder = t.placeholder;
    document.getElementById("w-label").textContent = t.label;
    send.textContent = t.send;
    fresh.textContent = t.newConversation;
    languages.setAttribute("aria-label", t.language);
    for (const choice of languages.querySelectorAll("button")) {
      choice.setAttribute("aria-pressed", String(choice.dataset.lang === lang));
    }
    tell("lang");
  }

  // --- asking ------------------------------------------------------------------------------

  async function ask(question) {
    if (send.disabled) return; // loading the saved turns, or answering
    const bubble = el("li", "w-bot w-streaming");
    pending = [el("li", "w-user", question), bubble];
    showLog();
    bubble.scrollIntoView({ block: "end" });
    send.disabled = true;
    let turn;
    try {
      let response;
      try {
        response = await askServer(question);
      } catch (error) {
        if (error.status !== 404) throw error;
        openConversation(""); // deleted meanwhile: this question starts a new one
        response = await askServer(question);
      }
      let text = "";
      let savedAs = null; // the saved turn's id, so a vote on it is kept with the turn
      for await (const { event, data } of events(response)) {
        if (event === "turn") {
          savedAs = JSON.parse(data).answer_id;
        } else if (event === "token") {
          text += data;
          bubble.textContent = text;
          bubble.scrollIntoView({ block: "end" });
        } else if (event === "answer") {
          turn = { question, answer: JSON.parse(data), status: "answered", answer_id: savedAs, vote: null };
        } else if (event === "error") {
          const problem = JSON.parse(data);
          throw failure(problem.code, problem.detail);
        }
      }
      if (!turn) throw failure("CUT_OFF", t.errors.CUT_OFF);
    } catch (error) {
      turn = { question, answer: null, status: "failed", error: error.message, error_code: error.code };
    }
    turns.push(turn);
    pending = [];
    const shown = answerNode(turn);
    bubble.replaceWith(shown);
    shown.scrollIntoView({ block: "end" });
    send.disabled = false;
    input.focus();
  }

  async function load() {
    if (conversationId) {
      try {
        const response = await call(`/api/conversations/${encodeURIComponent(conversationId)}`);
        turns = (await response.json()).turns;
      } catch (error) {
        // Gone (deleted, or the server's database was replaced): start a new one, silently.
        if (error.status === 404) openConversation("");
        else {
          showLog();
          log.append(el("li", "w-bot w-error", t.couldNotLoad(explain(error.code, error.message))));
          return;
        }
      }
    }
    showLog();
    log.lastElementChild?.scrollIntoView({ block: "end" });
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
  fresh.addEventListener("click", () => {
    if (send.disabled) return; // the turns on their way belong to the open conversation
    openConversation(""); // created with the next question: an unused one is never saved
    turns = [];
    showLog();
    input.focus();
  });
  languages.addEventListener("click", (event) => {
    const chosen = event.target.closest("button")?.dataset.lang;
    if (!Object.hasOwn(TEXT, chosen ?? "")) return;
    remember("lang", chosen);
    label(chosen);
    showLog();
  });
  // Escape anywhere in the frame closes the panel, which the host page owns.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") tell("close");
  });
  window.addEventListener("message", (event) => {
    if (event.source === window.parent && event.origin === hostOrigin && event.data?.ragWidget === "open") input.focus();
  });

  label(lang);
  input.focus();
  // Questions wait for the saved turns: they are the history a follow-up is asked in.
  load().finally(() => {
    send.disabled = false;
  });
})();
