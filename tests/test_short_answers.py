"""Short answers: how a model's labelled reply is read, and the extractive backend's own.

The replies below are ones the bundled Qwen 1.5B wrote on the XQuAD and demo questions;
the sentences come from the benchmarks and the demo corpus.
"""

from __future__ import annotations

import pytest

from rag.engine import Engine
from rag.extractive import ScoredSentence, extract_answer
from rag.reply import ReplyStream, parse_reply
from rag.retrieval import Passage
from rag.spans import short_answer


def short_span_text(question: str, sentence: str) -> str:
    found = short_answer(question, [sentence])
    return found.text if found else ""

class TestModelReplies:
    def test_the_answer_line_is_the_short_answer_and_the_labels_never_show(self) -> None:
        reply = parse_reply("Answer: 20–18\n\nSupport: The Broncos beat the New England Patriots 20–18. [1]")
        assert not reply.declined and reply.short == "20–18"
        assert reply.text == "20–18\nThe Broncos beat the New England Patriots 20–18. [1]"

    @pytest.mark.parametrize("raw", [
        "I don't know.",
        "Answer: <unknown>\nSupport: <[1]>",
        "Answer: <a name, number or short phrase>\nSupport: <one or two sentences>",
        "Support: <a name, number or short phrase\nDarüber hinaus muss Rutte … unterstützt hat. [1]",
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
        assert short_span_text(question, sentence) == span

    def test_a_unit_the_question_does_not_name_stays_with_its_number(self) -> None:
        assert short_span_text("How long did the handover ceremony last?", "The ceremony lasted two hours.") == "two hours"

    @pytest.mark.parametrize(("question", "sentence"), [
        ("Why did Trump criticise NATO?", "Trump lambasted member states in 2017."),
        ("What are Rutte's three priorities?", ("“As secretary-general, I will work on three main priorities,” Rutte "
                                                "said as he took over power from Jens Stoltenberg in Brussels.")),
    ])
    def test_questions_that_ask_for_no_date_number_or_name_get_no_span(self, question: str, sentence: str) -> None:
        assert short_span_text(question, sentence) == ""

    def test_a_question_offering_a_choice_gets_the_option_the_sentence_names(self) -> None:
        question = "Which band is from England, Fireflight or Dirty Pretty Things?"
        sentences = ["Dirty Pretty Things were an English rock band formed in London in 2005.",
                     "Fireflight is an American Christian rock band from Eustis, Florida."]
        found = short_answer(question, sentences[:1])
        assert found is not None and found.text == "Dirty Pretty Things" and not found.compared

    # HotpotQA comparison questions; the sentences open the two gold documents.
    @pytest.mark.parametrize(("question", "sentences", "option"), [
        ("Who was born first, Ulf Merbold or Mirosław Hermaszewski?",
         ["Mirosław Hermaszewski (born September 15, 1941) is a retired Polish Air Force officer and cosmonaut.",
          "Ulf Dietrich Merbold (born June 20, 1941) is the first West German citizen and the first non-American to fly "
          "on a NASA spacecraft."],
         "Ulf Merbold"),
        ("Who died first, George Archainbaud or Ralph Murphy?",
         ["Ralph Murphy (May 1, 1895 – February 10, 1967) was an American film director.",
          "George Archainbaud (May 7, 1890 – February 20, 1959) was a French-born American film and television director."],
         "George Archainbaud"),
        ("Which came out first, Dinosaur or McFarland, USA",
         ["McFarland, USA is a 2015 American sports drama film directed by Niki Caro.",
          "Dinosaur is a 2000 American CGI animated adventure film produced by Walt Disney Feature Animation."],
         "Dinosaur"),
    ])
    def test_which_came_first_is_decided_by_the_dates_of_both_options(self, question: str, sentences: list[str],
                                                                        option: str) -> None:
        titles = [s.split(" (")[0].split(" is ")[0] for s in sentences]  # each option's own article
        found = short_answer(question, sentences, titles)
        assert found is not None and found.text == option and found.compared
        assert found.evidence == (0, 1)  # both dated sentences are quoted as support

    @pytest.mark.parametrize(("question", "sentences", "verdict"), [
        ("Are Broughtonia and Laeliocattleya both orchids?",
         ["Broughtonia is a genus of orchids (family Orchidaceae) native to the Caribbean.",
          "Laeliocattleya is a hybrid genus of orchids."], "yes"),
        ("Were Gregory La Cava and Mike Judge both actors?",
         ["Gregory La Cava (March 10, 1892 – March 1, 1952) was an American film director.",
          "Mike Judge is an American actor, animator, writer, producer and musician."], "no"),
    ])
    def test_a_yes_no_question_about_two_things_is_checked_against_each(self, question: str, sentences: list[str],
                                                                         verdict: str) -> None:
        found = short_answer(question, sentences)
        assert found is not None and found.text == verdict and found.evidence == (0, 1)

    def test_no_verdict_when_one_of_the_things_is_named_nowhere(self) -> None:
        sentences = ["Broughtonia is a genus of orchids (family Orchidaceae) native to the Caribbean."]
        assert short_answer("Are Broughtonia and Laeliocattleya both orchids?", sentences) is None

    def test_german_what_questions_are_not_yes_no_questions(self) -> None:
        sentence = "Rutte's unmittelbare Priorität wird die Koordinierung der militärischen Hilfe für die Ukraine sein."
        assert short_span_text("Was wird Ruttes unmittelbare Priorität sein?", sentence) == ""

    @pytest.mark.parametrize(("question", "sentence", "span"), [
        # The question word inside the question decides, not its first word.
        ("Tysons Galleria is located in what county?",
         "Tysons Galleria is a shopping mall located in Fairfax County, Virginia.", "Fairfax County"),
        # "What film" names the film a sentence defines as one.
        ("What film was written and directed by Joby Harold with music written by Samuel Sim?",
         "Awake is a 2007 American conspiracy thriller film written and directed by Joby Harold.", "Awake"),
        # A nickname is quoted.
        ("What nickname does Mark Rutte have?",
         "Rutte, nicknamed “Teflon Mark,” has been adept at avoiding domestic political crises throughout his career.",
         "Teflon Mark"),
        # A place follows "in"; German nouns and months are not places.
        ("Where will Biden host a summit of Ukraine's supporters?",
         "Präsident Biden lädt Unterstützer der Ukraine zu einem Gipfel in Ramstein am 12. Oktober ein.", "Ramstein"),
        ("On what date is the summit of Ukraine's supporters in Ramstein?",
         "Präsident Biden lädt Unterstützer der Ukraine zu einem Gipfel in Ramstein am 12. Oktober ein.", "12. Oktober"),
        ("From which year to which year was Rutte prime minister of the Netherlands?",
         "Mark Rutte was Prime Minister of the Netherlands from 2010 to 2024.", "2010 to 2024"),
    ])
    def test_the_span_follows_the_form_of_the_question(self, question: str, sentence: str, span: str) -> None:
        assert short_span_text(question, sentence) == span

    def test_a_quote_after_known_as_answers_a_question_for_a_name_and_no_other(self) -> None:
        nickname = "“Like Stoltenberg, Rutte is also known as the ‘Trump whisperer’."
        candidates = ("NATO member countries considered various candidates to succeed Stoltenberg, including UK "
                      "Defense Secretary Ben Wallace.")
        assert short_span_text("Welchen Spitznamen hat Mark Rutte?", nickname) == "Trump whisperer"
        found = short_answer("Welcher britische Verteidigungsminister war als Nachfolger Stoltenbergs im Gespräch?",
                             [candidates, nickname])
        assert found is not None and found.text.endswith("Ben Wallace")

    def test_a_capitalised_word_opening_a_sentence_is_not_a_name(self) -> None:
        sentence = "Since Russia’s full-scale invasion of Ukraine, NATO troop numbers in the east have doubled."
        assert short_span_text("Which countries are pushing for higher spending targets?", sentence) == ""

    def test_a_follow_up_condensed_by_joining_is_read_by_its_last_question(self) -> None:
        question = "Where will NATO build a new headquarters? And when does Biden host the summit?"
        sentence = "Präsident Biden lädt Unterstützer der Ukraine zu einem Gipfel in Ramstein am 12. Oktober ein."
        assert short_span_text(question, sentence) == "12. Oktober"

    def test_the_answer_of_a_bridge_question_is_read_in_the_document_the_best_sentence_names(self) -> None:
        # HotpotQA: the film's article names its director; her article holds the answer.
        film = _passage("Big Stone Gap (film)", "Big Stone Gap is a 2014 American drama romantic comedy film written "
                                                "and directed by Adriana Trigiani and produced by Donna Gigliotti.")
        director = _passage("Adriana Trigiani", "Adriana Trigiani is an Italian American best-selling author of "
                                                "sixteen books, television writer, film director, and entrepreneur "
                                                "based in Greenwich Village, New York City.")
        scored = [ScoredSentence(1, 0, len(film.text), film.text, 0.52),
                  ScoredSentence(2, 0, len(director.text), director.text, 0.30)]
        question = 'The director of the romantic comedy "Big Stone Gap" is based in what New York city?'
        extract = extract_answer(question, scored, [film, director])
        assert extract.short == "Greenwich Village"
        assert [c.title for c in extract.citations] == ["Adriana Trigiani", "Big Stone Gap (film)"]

    def test_which_questions_take_a_name_of_several_words(self) -> None:
        sentence = ("Oana Lungescu, a distinguished fellow at the Royal United Services Institute defense and "
                    "security think tank, commented on defense spending.")
        assert short_span_text("Bei welchem Thinktank ist Oana Lungescu Fellow?", sentence) == "Royal United Services Institute"

    def test_a_headline_is_not_quoted_as_an_answer_but_a_list_item_is(self) -> None:
        headline = _passage("Rutte – NATO's new secretary general", "Rutte – NATO's new secretary general")
        said = _passage("Rutte", "“As secretary-general, I will work on three main priorities,” Rutte said.")
        item = _passage("Priorities", "- keep NATO strong")
        scored = [ScoredSentence(n, 0, len(p.text), p.text, score)
                  for n, (p, score) in enumerate([(headline, 0.6), (said, 0.5), (item, 0.45)], start=1)]
        extract = extract_answer("What are Rutte's three priorities as NATO secretary-general?", scored,
                                 [headline, said, item])
        assert [c.title for c in extract.citations] == ["Rutte", "Priorities"]
        assert extract.support == 0.6  # the headline still counts as evidence that the documents cover it

    @pytest.mark.parametrize(("items", "quoted"), [
        (["The first is to keep NATO strong.", "Rutte said his second priority was Ukraine.",
          "Rutte said his third priority was partnerships."], 4),
        (["The first is to keep NATO strong.", "Rutte said his second priority was Ukraine."], 1),
    ])
    def test_a_list_the_question_counts_is_quoted_whole_or_not_at_all(self, items: list[str], quoted: int) -> None:
        sentences = ["“I will work on three main priorities,” Rutte said.", *items, "Our security must be a team effort."]
        passage = _passage("Rutte", " ".join(sentences))
        starts = [passage.text.index(s) for s in sentences]
        scored = [ScoredSentence(1, start, start + len(s), s, 0.6 if i == 0 else 0.3)
                  for i, (start, s) in enumerate(zip(starts, sentences))]
        extract = extract_answer("What are Rutte's three priorities?", scored, [passage])
        assert len(extract.citations) == quoted  # the announcement and its three items, or the best sentence alone
        assert extract.text.startswith("“I will work on three main priorities,”")

    def test_the_extractive_answer_opens_with_its_short_answer(self, demo_engine: Engine) -> None:
        answer = demo_engine.ask("Wie viele der 32 Länder halten derzeit das Ziel von 2 % des BIP ein?",
                                 backend="extractive")
        assert answer.short_answer == "23" and answer.answer.startswith("23\n")


def _passage(title: str, text: str) -> Passage:
    return Passage(f"{title}#0", title, title, "", "en", 0, len(text), text, 1.0, 0.5)
