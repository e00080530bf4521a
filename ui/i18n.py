"""The interface's words in English and German.

The chat starts in the browser's language (its Accept-Language) and offers a switch. Labels
inside an answer (its refusal notice, its footer, its sources) follow the answer's own
language, so a German question reads German labels whatever the interface is set to.
"""

from __future__ import annotations

from typing import Literal

Lang = Literal["en", "de"]
LANGUAGES: dict[Lang, str] = {"en": "English", "de": "Deutsch"}

WORDS: dict[str, dict[Lang, str]] = {
    # The page
    "title": {"en": "Briefing bot", "de": "Briefing-Bot"},
    "tagline": {
        "en": "Short answers from your documents. Every claim carries a numbered citation that opens its source.",
        "de": "Kurze Antworten aus Ihren Dokumenten. Jede Aussage trägt einen nummerierten Beleg, der die Quelle öffnet.",
    },
    "rest_api": {"en": "REST API", "de": "REST-API"},
    "embed": {"en": "Embed widget", "de": "Widget einbetten"},
    "tab_ask": {"en": "Ask", "de": "Fragen"},
    "tab_documents": {"en": "Documents", "de": "Dokumente"},
    # Asking
    "placeholder": {
        "en": "Ask a question, e.g. What are Rutte's three priorities?",
        "de": "Stellen Sie eine Frage, z. B. Was sind Ruttes drei Prioritäten?",
    },
    "chat_placeholder": {
        "en": "**Ask about the documents**\n\nAnswers cite their sources as [1], [2], … — click one to read the passage.",
        "de": "**Fragen Sie zu den Dokumenten**\n\nAntworten belegen ihre Quellen mit [1], [2], … — ein Klick zeigt die Stelle.",
    },
    "ask": {"en": "Ask", "de": "Fragen"},
    "stop": {"en": "Stop", "de": "Stopp"},
    "ask_again": {"en": "Ask again", "de": "Erneut fragen"},
    "backend": {"en": "Answering backend", "de": "Antwortendes Modell"},
    "language": {"en": "Language", "de": "Sprache"},
    "too_long": {
        "en": "The question has {count} characters; the limit is {limit}.",
        "de": "Die Frage hat {count} Zeichen; erlaubt sind {limit}.",
    },
    "busy": {
        "en": "An answer is still being written: wait for it or stop it before the next question.",
        "de": "Eine Antwort wird noch geschrieben: warten Sie darauf oder stoppen Sie sie vor der nächsten Frage.",
    },
    "stopped": {"en": "Stopped before the end.", "de": "Vor dem Ende gestoppt."},
    "could_not_answer": {"en": "Could not answer", "de": "Keine Antwort möglich"},
    # Conversations
    "conversations": {"en": "Conversations", "de": "Unterhaltungen"},
    "new_conversation": {"en": "New conversation", "de": "Neue Unterhaltung"},
    "untitled": {"en": "New conversation", "de": "Neue Unterhaltung"},
    "search_titles": {"en": "Search titles", "de": "Titel durchsuchen"},
    "manage": {"en": "Rename, export or delete", "de": "Umbenennen, exportieren oder löschen"},
    "new_title": {"en": "New title", "de": "Neuer Titel"},
    "rename": {"en": "Rename", "de": "Umbenennen"},
    "export": {"en": "Export as Markdown", "de": "Als Markdown exportieren"},
    "delete": {"en": "Delete", "de": "Löschen"},
    "confirm_delete": {
        "en": "Delete this conversation and its answers?",
        "de": "Diese Unterhaltung und ihre Antworten löschen?",
    },
    # Feedback
    "comment_placeholder": {
        "en": "Thanks for rating. Anything to add? (optional)",
        "de": "Danke für die Bewertung. Möchten Sie etwas ergänzen? (optional)",
    },
    "send_comment": {"en": "Send comment", "de": "Kommentar senden"},
    "comment_saved": {"en": "Thank you: your comment was saved.", "de": "Danke: Ihr Kommentar wurde gespeichert."},
    # Documents
    "add_documents": {
        "en": "Add documents (txt, md, html, pdf, docx, jsonl)",
        "de": "Dokumente hinzufügen (txt, md, html, pdf, docx, jsonl)",
    },
    "add_to_index": {"en": "Add to index", "de": "Zum Index hinzufügen"},
    "editor_needed": {
        "en": "Adding documents needs an editor key: sign in with one.",
        "de": "Zum Hinzufügen von Dokumenten ist ein Bearbeiterschlüssel nötig: melden Sie sich damit an.",
    },
    "filter_documents": {"en": "Filter by title, source or id", "de": "Nach Titel, Quelle oder Id filtern"},
    "any_language": {"en": "Any language", "de": "Alle Sprachen"},
    "document_to_delete": {"en": "Document to delete", "de": "Zu löschendes Dokument"},
    "delete_document": {"en": "Delete document", "de": "Dokument löschen"},
    "confirm_delete_document": {
        "en": "Delete this document from the index? Answers will no longer cite it.",
        "de": "Dieses Dokument aus dem Index löschen? Antworten zitieren es dann nicht mehr.",
    },
    "documents_in_index": {"en": "Documents in the index", "de": "Dokumente im Index"},
    "no_documents": {
        "en": "No documents yet: add some in the Documents tab.",
        "de": "Noch keine Dokumente: fügen Sie welche im Tab Dokumente hinzu.",
    },
    "library_columns": {
        "en": "Title|Source|Language|Added|Chunks|Id",
        "de": "Titel|Quelle|Sprache|Hinzugefügt|Abschnitte|Id",
    },
    "upload": {"en": "Upload", "de": "Hochladen"},
    "upload_columns": {"en": "File|Result|Documents|Problem", "de": "Datei|Ergebnis|Dokumente|Problem"},
    "no_files": {"en": "No files.", "de": "Keine Dateien."},
    "documents_count": {"en": "{count} documents", "de": "{count} Dokumente"},
    "document_count": {"en": "1 document", "de": "1 Dokument"},
    "in_languages": {"en": " in {languages}", "de": " auf {languages}"},
    "mostly_about": {"en": ", mostly about {names}", "de": ", vor allem zu {names}"},
    "and": {"en": "and", "de": "und"},
    "choose_files": {"en": "Choose one or more files first.", "de": "Wählen Sie zuerst eine oder mehrere Dateien."},
    # Inside an answer (in the answer's language)
    "not_in_documents": {"en": "Not in the documents", "de": "Nicht in den Dokumenten"},
    "no_clear_answer": {"en": "No clear answer in the documents", "de": "Keine eindeutige Antwort in den Dokumenten"},
    "answered_by": {"en": "answered by {backend}", "de": "beantwortet von {backend}"},
    "refused_footer": {"en": "not in the documents", "de": "nicht in den Dokumenten"},
    "quoted_footer": {
        "en": "no answer stated; closest evidence quoted",
        "de": "keine Antwort belegt; nächster Beleg zitiert",
    },
    "sources_count": {"en": "{count} sources", "de": "{count} Quellen"},
    "source_count": {"en": "1 source", "de": "1 Quelle"},
    "removed": {"en": "{count} unsupported statements removed", "de": "{count} unbelegte Aussagen entfernt"},
    "removed_one": {"en": "1 unsupported statement removed", "de": "1 unbelegte Aussage entfernt"},
    # The sources panel
    "sources": {"en": "Sources", "de": "Quellen"},
    "sources_hint": {
        "en": "Ask a question: the passages an answer cites appear here.",
        "de": "Stellen Sie eine Frage: Die Stellen, die eine Antwort belegt, erscheinen hier.",
    },
    "sources_cited": {"en": "Sources cited", "de": "Zitierte Quellen"},
    "evidence_found": {"en": "Evidence found (answer on its way)", "de": "Gefundene Belege (Antwort folgt)"},
    "nearest_passages": {
        "en": "Nearest passages (none answers the question)",
        "de": "Nächstliegende Stellen (keine beantwortet die Frage)",
    },
    "nearest_evidence": {
        "en": "Nearest evidence (it does not state the answer clearly)",
        "de": "Nächstliegende Belege (sie nennen die Antwort nicht eindeutig)",
    },
    "no_evidence": {"en": "no evidence", "de": "keine Belege"},
    "copy": {"en": "Copy", "de": "Kopieren"},
    "no_passages": {"en": "no passages", "de": "keine Stellen"},
}


# Language names as the German interface says them; others keep their English names.
GERMAN_LANGUAGE_NAMES = {"English": "Englisch", "German": "Deutsch", "French": "Französisch", "Spanish": "Spanisch",
                         "Italian": "Italienisch", "Dutch": "Niederländisch", "Polish": "Polnisch", "Russian": "Russisch",
                         "Ukrainian": "Ukrainisch"}  # fmt: skip


def language_label(english_name: str, lang: str) -> str:
    return GERMAN_LANGUAGE_NAMES.get(english_name, english_name) if lang == "de" else english_name


def listing(items: list[str], lang: str) -> str:
    """ "a, b and c" in `lang`."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {say('and', lang)} {items[-1]}"


def say(key: str, lang: str, **values: object) -> str:
    """The words for `key` in `lang` (English for any language without its own)."""
    words = WORDS[key]
    return words.get(lang if lang in LANGUAGES else "en", words["en"]).format(**values)  # type: ignore[call-overload]


def browser_language(accept_language: str) -> Lang:
    """The first of the browser's preferred languages we speak; English otherwise."""
    for part in accept_language.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code  # type: ignore[return-value]
    return "en"


def answer_language(lang: str) -> Lang:
    """The label language for an answer in `lang` (a detected language code)."""
    return "de" if lang == "de" else "en"
