"""Short answers: how a model's labelled reply is read, and the extractive backend's own.

The replies below are ones the bundled Qwen 1.5B wrote on the XQuAD and demo questions;
the sentences come from the benchmarks and the demo corpus.
"""

from __future__ import annotations

import pytest

from rag.engine import Engine
from rag.reply import ReplyStream, parse_reply
from rag.spans import short_span


class TestModelReplies:
    def test_the_answer_line_is_the_short_answer_and_the_labels_never_show(self) -> None:
        reply = parse_reply("Answer: 20–18\n\nSupport: The Broncos beat the New England Patriots 20–18. [1]")
        assert not reply.declined and reply.short == "20–18"
        assert reply.text == "20–18\nThe Broncos beat the New England Patriots 20–18. [1]"

    @pytest.mark.parametrize("raw", [
        "I don't know.",
        "Answer: <unknown>\nSupport: <[1]>",
        "Answer: <a name, number or short phrase>\nSupport: <one or two sentences>",
        "Answer: Das Gehalt des NATO-Generalsekretärs ist nicht bekannt.",
        "The passage does not provide any information about Mark Rutte's children.",
        "NOT_IN_SOURCES",
    ])
    def test_a_model_saying_it_does_not_know_is_a_refusal(self, raw: str) -> None:
        assert parse_reply(raw).declined

    def test_an_answer_copied_inside_the_forms_brackets_is_still_an_answer(self) -> None:
        reply = parse_reply("Answer: <keep NATO strong; support Ukraine; partnerships>\nSupport: [3]")
        assert not reply.declined and reply.answer_line == "keep NATO strong; support Ukraine; partnerships"

    def test_a_long_first_line_is_an_answer_but_not_a_short_one(self) -> None:
        reply = parse_reply("Oana Lungescu ist eine Distinguished Fellow am Royal United Services Institute "
                            "defense and security think tank und eine frühere NATO-Sprecherin. [1]")
        assert not reply.declined and reply.short == ""

    def test_the_stream_shows_nothing_of_a_refusal_and_no_label_of_an_answer(self) -> None:
        refusal = ReplyStream()
        assert [refusal.feed(p) for p in ["I don", "'t know", ".\n"]] + [refusal.finish()] == ["", "", "", ""]
        answer = ReplyStream()
        pieces = ["Ans", "wer: ", "308", "\n", "Supp", "ort: The Panthers", " gave up 308 points [1]"]
        shown = "".join(answer.feed(p) for p in pieces) + answer.finish()
        assert shown == "308\nThe Panthers gave up 308 points [1]"

    @pytest.mark.parametrize(("text", "short"), [
        ("308 [1]", "308"), ("**Answer:** John Elway\nHe held the record [2]", "John Elway"),
        ("Antwort: 11 Punkte [1]", "11 Punkte"),
        (("The Broncos defeated the Pittsburgh Steelers in the divisional round, 23–16, by scoring 11 points in "
          "the final three minutes of the game. [1]"), ""),
    ])
    def test_short_answer_reads_the_first_line_when_it_is_a_few_words(self, text: str, short: str) -> None:
        assert parse_reply(text).short == short


class TestExtractiveShortAnswers:
    @pytest.mark.parametrize(("question", "sentence", "span"), [
        ("How many points did the Panthers defense surrender?",
         "The Panthers defense gave up just 308 points, ranking sixth in the league.", "308"),
        ("Wann findet der Gipfel in Ramstein statt?",
         "Präsident Biden lädt Unterstützer der Ukraine zu einem Gipfel in Ramstein am 12. Oktober ein.", "12. Oktober"),
        ("Who held the record before Peyton Manning?",
         "The past record was held by John Elway, who led the Broncos to victory in Super Bowl XXXIII at age 38.",
         "John Elway"),
        ("Where will NATO build its new headquarters for Ukraine?",
         "NATO members decided to build a new headquarters in Wiesbaden to secure support for Ukraine.", "Wiesbaden"),
    ])
    def test_the_span_of_the_kind_the_question_asks_for(self, question: str, sentence: str, span: str) -> None:
        assert short_span(question, sentence) == span

    def test_a_unit_the_question_does_not_name_stays_with_its_number(self) -> None:
        assert short_span("How long did the handover ceremony last?", "The ceremony lasted two hours.") == "two hours"

    @pytest.mark.parametrize(("question", "sentence"), [
        ("Why did Trump criticise NATO?", "Trump lambasted member states in 2017."),
        ("What are Rutte's three priorities?", ("“As secretary-general, I will work on three main priorities,” Rutte "
                                                "said as he took over power from Jens Stoltenberg in Brussels.")),
    ])
    def test_questions_that_ask_for_no_date_number_or_name_get_no_span(self, question: str, sentence: str) -> None:
        assert short_span(question, sentence) == ""

    def test_a_question_offering_a_choice_gets_the_option_the_sentence_names(self) -> None:
        question = "Which battle occurred first, the Battle of Manila or the Battle of Guam?"
        sentence = "The Second Battle of Guam (21 July – 10 August 1944) was the American recapture of the island."
        assert short_span(question, sentence) == "The Second Battle of Guam"

    def test_which_questions_take_a_name_of_several_words(self) -> None:
        sentence = ("Oana Lungescu, a distinguished fellow at the Royal United Services Institute defense and "
                    "security think tank, commented on defense spending.")
        assert short_span("Bei welchem Thinktank ist Oana Lungescu Fellow?", sentence) == "Royal United Services Institute"

    def test_the_extractive_answer_opens_with_its_short_answer(self, demo_engine: Engine) -> None:
        answer = demo_engine.ask("Wie viele der 32 Länder halten derzeit das Ziel von 2 % des BIP ein?",
                                 backend="extractive")
        assert answer.short_answer == "23" and answer.answer.startswith("23\n")
