"""Example questions offered by the chat and the widget (they fit the bundled demo corpus)."""

EXAMPLE_QUESTIONS: tuple[str, ...] = (
    "What are Rutte's three priorities?",
    "Wer lädt zum Gipfel in Ramstein ein?",
    "Who did Rutte take over from as NATO Secretary General?",
)
