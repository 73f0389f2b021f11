"""The default answer engine: picks the sentences of the retrieved passages that answer the question."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from assistant.answering import cues
from assistant.embed.embeddings import LocalEmbeddings
from assistant.glossary import translated
from assistant.ingest.cleaning import CELL_SEPARATOR
from assistant.search.retriever import TRANSLATED_SHARE, Weighed, chunk_language, language_of, share
from assistant.text import (
    ACRONYM,
    acronym_definitions,
    bare_line,
    cut_words,
    has_cjk,
    section_context,
    tokens,
    without_reference_marks,
    word_count,
)
from assistant.types import Passage

MAX_WORDS = 80
# A sentence is quoted whole, even past MAX_WORDS when it leads; only a longer run (a line of
# text without full stops, a list of sources) is cut. Each Chinese character counts as a word,
# so an ordinary Chinese sentence can exceed MAX_WORDS.
LONGEST_QUOTE_WORDS = 2 * MAX_WORDS
MAX_SENTENCES = 3
# A further sentence must score this share of the best one to join the answer; one from another
# passage than the best sentence's, a larger share: beside the answer's own passage it is more often
# padding than support. Measured (answer hit / median words, extractive, MiniLM): XQuAD-en
# 0.917/56 -> 0.920/54.5, COVID-QA 0.575/63 -> 0.575/58, the collection's own questions unchanged
# (but for a gold span written "Art. 68" where the answer quotes "Article 68").
KEEP_RATIO = 0.75
OTHER_PASSAGE_KEEP_RATIO = 0.85
# Near-duplicates (the corpus often says a thing twice) add nothing. Judged by shared words:
# sentence vectors from one chunk's pass share its context, so they are alike by construction.
DUPLICATE_OVERLAP = 0.7
LEXICAL_WEIGHT = 0.6
_ANAPHORA = frozenset("it its they them their this that these those he she his her there such".split())
# Words that open a sentence leaning on the one before: "It came into use ...", "Its director ...".
_OPENING_ANAPHORA = frozenset("it its they their these those this he she his her such both".split())
# The same in Chinese, which has no spaces to find a first word by: "at the meeting", "this", "the said", "he" ...
_OPENING_ANAPHORA_ZH = ("会上", "会议上", "此后", "上述", "这", "该", "其", "此", "他", "她", "它")
# A turn that goes on from the one before: "And in 2019?", "What about Jiangsu?", "那2019年呢？".
_GOES_ON = re.compile(r"^\s*(?:and|also|then|what about|how about)\b|^\s*那(?:么)?|呢\s*[?？]?\s*$", re.I)
# A question that opens as one, with a question word or a verb: "What is ...", "Did ...".
_ASKS = re.compile(
    r"^\s*(?:who|whom|whose|what|when|where|which|why|how|is|are|was|were|do|does|did|can|could|will|would"
    r"|should|has|have|had)\b",
    re.I,
)
# A personal pronoun among a sentence's first words, subject or object: "At the time she was ...",
# "The State Council adopted them on ..." (them: the regulations the sentence before names).
# Measured (answer hit, extractive, MiniLM): adding "them", "him", "her" lifted the collection's own
# English questions 0.912 -> 0.920, XQuAD-en and COVID-QA unchanged; "it" as well cost COVID-QA a question.
_EARLY_PERSONAL_PRONOUN = re.compile(r"^(?:[\w,]+\s+){1,4}?(?:he|she|him|her|they|them)\b", re.I)
# The heading of a list of sources: "Sources", "7. References", "参考文献", "资料来源" ("Notes" can
# hold anything, so it is not one).
_REFERENCES = re.compile(
    r"\W*(?:\d+\.?\s*)?(?:sources|references|bibliography|further reading|参考文献|参考资料|资料来源)\W*", re.I
)
# How much less a sentence that ends in a colon (the lead-in to a list) scores.
LIST_LEAD_PENALTY = 0.3


# A name, or a reason for "why" ("because", "in order to"): on the 58 "why" questions of XQuAD-en
# and COVID-QA, a reason at 0.1 (and put first) finds 39 answers, against 37 without and 37 at 0.3.
ANSWER_TYPE_BONUS = 0.1
# A new date or number is a sure sign of an answer to "when" or "how many" (a capitalised word
# only a weak one of a name), so it weighs more. Measured (answer hit, extractive, MiniLM): 0.3
# lifted the collection's own questions from 0.894 to 0.903 (English) and 0.926 to 0.944
# (Chinese); XQuAD-en and COVID-QA unchanged.
FIGURE_BONUS = 0.3
# "Who is X?" asks for the sentence that says what X is, and "who wrote" for a byline: cues narrower
# than a name, so they weigh more (a sentence only about X must not outrank "X, who led ...").
DEFINITION_BONUS = 0.3
# A sentence inherits this share of the previous sentence's score: the sentence after the one
# that restates the question often holds the answer ("Algorithms ... have been devised. These include ...").
CONTEXT_WEIGHT = 0.1
# The share of a question word's weight earned when the word is found only around a sentence.
# Measured (answer hit, extractive, MiniLM): 0.7 lifted the collection's own questions from
# 0.81 to 0.85 (English) and 0.82 to 0.89 (Chinese), XQuAD-en and COVID-QA within one question.
CONTEXT_WORDS_SHARE = 0.7


def _answer_type_bonus(question: str, texts: list[str], befores: list[str], headers: list[str]) -> np.ndarray:
    """A "when" question wants a sentence with a new date; "how many", a number; "who", a name;
    "why", a reason; "who wrote", a byline; "who is X" or "what is X", a sentence that says what X is."""
    bonus = np.zeros(len(texts))
    if (pattern := cues.wanted(question)) is not None:
        weight = FIGURE_BONUS if cues.asks_figure(question) else ANSWER_TYPE_BONUS
        bonus += [weight if cues.offers(pattern, t, question, h) else 0.0 for t, h in zip(texts, headers, strict=True)]
    if cues.asks_author(question):
        bonus += [DEFINITION_BONUS * cues.is_byline(t) for t in texts]
    if (subject := cues.subject(question)) is not None:
        bonus += [DEFINITION_BONUS * cues.defines(subject, t, b) for t, b in zip(texts, befores, strict=True)]
    return bonus


def _with_context(scores: np.ndarray, numbers: list[int]) -> np.ndarray:
    """Each sentence plus a share of the score of the sentence before it in the same passage."""
    follows = np.array([i > 0 and numbers[i - 1] == numbers[i] for i in range(len(numbers))])
    before = np.concatenate([[0.0], scores[:-1]])
    return scores + CONTEXT_WEIGHT * np.where(follows, before, 0.0)


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / max(len(a | b), 1)


class ExtractiveEngine:
    """Deterministic, needs no language model; each sentence it returns cites its passage."""

    name = "extractive"

    def __init__(
        self,
        embeddings: LocalEmbeddings,
        weigh: Callable[[list[frozenset[str]]], Weighed],
        sentences_of: Callable[[list[str]], dict[str, list[tuple[str, Any]]]],
    ) -> None:
        self.embeddings = embeddings
        self.weigh = weigh  # the question's words, by how rare they are in the documents
        self.sentences_of = sentences_of

    def condense(self, question: str, history: list[tuple[str, str]]) -> str:
        """Carry the subject of earlier turns into a question that leans on them ("When did it start?",
        "And in 2019?", "那2019年呢？"); a question that names its own subject ("What is the capital of
        France?", "Who is Liu Jing?") stands alone, however short."""
        earlier = [(q, a) for q, a in history if q.strip()]
        if not earlier or not _leans_on_earlier_turns(question):
            return question
        # The previous question as it was searched: itself a follow-up, it carries the one before
        # ("And in 2024?" after "When did it open?" after "What is the training centre?").
        return f"{question} ({self.condense(earlier[-1][0], earlier[:-1])})"

    def stream(self, question: str, passages: list[Passage]) -> Iterator[str]:
        spelled = acronym_definitions([passage.text for passage in passages])
        # Sentences and question are read alike, an acronym with its name, as retrieval reads it:
        # "How long was the MoU meant to last?" is answered by "The memorandum was set to run for three years."
        words_of = _word_sets(spelled=spelled)
        query_words = self.weigh([frozenset([word]) for word in words_of(question)])
        # A question is read through the dictionary against sentences in the other language (glossary).
        language = language_of(question)
        across = [chunk_language(passage.text, passage.metadata) != language for passage in passages]
        meanings = self.weigh(translated(question)) if any(across) else []
        # Sentence vectors were stored at indexing time, from the chunks' own model pass.
        stored = self.sentences_of([cid for passage in passages for cid in passage.ids])
        texts, numbers, vectors, seen = [], [], [], set()
        for rank, passage in enumerate(passages):
            for cid in passage.ids:
                for text, vector in stored.get(cid, []):
                    if text not in seen:  # neighbouring chunks overlap
                        seen.add(text)
                        texts.append(text)
                        numbers.append(rank + 1)
                        vectors.append(vector)
        if not texts:
            return
        vectors = np.asarray(vectors, dtype=np.float32)
        # A sentence that opens with "It"/"They"/"This ..." is read with the one before it, whose
        # subject it names: "It came into use on 1 October 2015" answers "When did the RQF start?".
        antecedent = [
            i - 1 if i > 0 and numbers[i - 1] == numbers[i] and _leans_back(texts[i]) else None
            for i in range(len(texts))
        ]
        # Words of the question found only around a sentence (its section's heading, its table's
        # header row, the document's title, the sentence it refers back to) count for less than
        # words in it: the heading says what the section is about, the sentence what it says.
        own_words = [words_of(t) for t in texts]
        sections = [section_context(passages[n - 1].text, text) for text, n in zip(texts, numbers, strict=True)]
        around = [
            set().union(
                *map(words_of, (*headings, header, passages[numbers[i] - 1].metadata.get("title") or "")),
                own_words[a] if a is not None else set(),
            )
            for i, (a, (headings, header)) in enumerate(zip(antecedent, sections, strict=True))
        ]
        read_across = [across[n - 1] and bool(meanings) for n in numbers]
        asked = [meanings if crossing else query_words for crossing in read_across]
        own = np.array([share(q, words) for q, words in zip(asked, own_words, strict=True)])
        with_context = np.array([share(q, w | c) for q, w, c in zip(asked, own_words, around, strict=True)])
        lexical = own + CONTEXT_WORDS_SHARE * (with_context - own)
        # Earlier passages were judged more relevant by retrieval: a small tie-breaking prior.
        prior = np.array([0.02 * (len(passages) - number + 1) for number in numbers])
        # Words read through the dictionary count for less than the question's own (TRANSLATED_SHARE).
        match = LEXICAL_WEIGHT * lexical * np.where(read_across, TRANSLATED_SHARE, 1.0)
        if self.embeddings.reads(question):  # an English-only model's similarities are noise for Chinese
            readable = np.array([self.embeddings.reads(text) for text in texts])
            match += readable * (vectors @ np.asarray(self.embeddings.embed_query(question), dtype=np.float32))
        befores = ["" if a is None else texts[a] for a in antecedent]
        headers = [bare_line(header) for _, header in sections]  # a table row's header row, else ""
        scores = _with_context(match, numbers) + prior + _answer_type_bonus(question, texts, befores, headers)
        # A sentence that only introduces a list ("... as follows:") answers nothing by itself.
        scores[[i for i, t in enumerate(texts) if t.rstrip().endswith(":")]] -= LIST_LEAD_PENALTY
        # A document's list of sources or references is where its facts come from, not what they are.
        scores[[i for i, (headings, _) in enumerate(sections) if headings and _REFERENCES.fullmatch(headings[-1])]] \
            = -np.inf
        order = np.argsort(-scores, kind="stable")
        best = scores[order[0]]
        if best == -np.inf:  # nothing but a list of sources
            return
        chosen: list[int] = []
        chosen_words: list[set[str]] = []
        words = 0
        for position in order:
            if len(chosen) == MAX_SENTENCES or (chosen and scores[position] < KEEP_RATIO * best):
                break
            elsewhere = bool(chosen) and numbers[position] != numbers[chosen[0]]
            if elsewhere and scores[position] < OTHER_PASSAGE_KEEP_RATIO * best:
                continue
            candidate = own_words[position]
            if any(_overlap(candidate, taken) > DUPLICATE_OVERLAP for taken in chosen_words):
                continue
            length = word_count(texts[position])
            if chosen and words + length > MAX_WORDS:
                continue
            chosen.append(position)
            chosen_words.append(candidate)
            words += length
        # A question after a sum of money that no chosen sentence states has no answer here.
        if cues.asks_sum(question) and not any(
            cues.offers(cues.wanted(question), texts[position], question, headers[position]) for position in chosen
        ):
            return
        # A question about one year is not answered by sentences that each speak of others: "What was the
        # 2023 budget?" by "The budget for 2024 was £186,000." (a sentence's year may be in its heading,
        # its table's header, its document's title or the sentence it leans on). Measured (extractive,
        # MiniLM): the collection's unanswerable questions declined 0.355 -> 0.419; its answerable
        # ones, XQuAD (en, zh) and COVID-QA unchanged.
        if asked_years := cues.years(question):
            around_years = [
                cues.years(" ".join([texts[i], befores[i], *sections[i][0], sections[i][1],
                                     str(passages[numbers[i] - 1].metadata.get("title") or "")]))
                for i in chosen
            ]
            if around_years and all(found and not found & asked_years for found in around_years):
                return
        # The answer leads with the fact: a "when" question's first sentence holds a date, if one chosen does.
        if (pattern := cues.leading(question)) is not None:
            chosen.sort(key=lambda position: not cues.offers(pattern, texts[position], question, headers[position]))
        # ... a "who wrote" answer with the byline ...
        if cues.asks_author(question):
            chosen.sort(key=lambda position: not cues.is_byline(texts[position]))
        # ... and a "who is X" answer with the sentence that says what X is.
        if (subject := cues.subject(question)) is not None:
            chosen.sort(key=lambda position: not cues.defines(subject, texts[position], befores[position]))
        # A sentence that introduces a list ("... divided into five groups:") is shown with what
        # follows it, unless the answer already quotes from there (the list's third item, say).
        follower = [
            i + 1 if _leads_in(t) and i + 1 < len(texts) and numbers[i + 1] == numbers[i]
            and not any(c > i and numbers[c] == numbers[i] for c in chosen) else None
            for i, t in enumerate(texts)
        ]
        shown: list[int] = []
        for position in chosen:
            # The sentence it refers back to comes just before it, the list it introduces just after
            # it: chosen too, or brought in if it fits (always for the first).
            for neighbour in (antecedent[position], position, follower[position]):
                if neighbour is None or neighbour in shown:
                    continue
                if neighbour in chosen or position == chosen[0] or words + word_count(texts[neighbour]) <= MAX_WORDS:
                    shown.append(neighbour)
                    words += 0 if neighbour in chosen else word_count(texts[neighbour])
        # A lead-in chosen after the sentence that follows it still comes first.
        for lead in [p for p in shown if p + 1 in shown and numbers[p + 1] == numbers[p] and _leads_in(texts[p])]:
            if shown.index(lead + 1) < shown.index(lead):
                shown.remove(lead)
                shown.insert(shown.index(lead + 1), lead)
        quotes: list[tuple[str, int]] = []
        for position in shown[:MAX_SENTENCES]:
            # A row of a table of three columns or more says nothing without the header naming them
            # ("2023 | 12 | 80 | 10"): the header comes first, once a table.
            header = bare_line(sections[position][1])
            cells = texts[position].count(CELL_SEPARATOR) + 1
            if cells > 2 and header.count(CELL_SEPARATOR) + 1 == cells and (header, numbers[position]) not in quotes:
                quotes.append((header, numbers[position]))
            quotes.append((cut_words(without_reference_marks(texts[position]), LONGEST_QUOTE_WORDS), numbers[position]))
        for i, (quote, number) in enumerate(quotes):
            yield ("" if i == 0 else " ") + f"{quote} [{number}]"


def _word_sets(*, spelled: dict[str, str]) -> Callable[[str], set[str]]:
    """A text's words as ``tokens`` finds them, each text split once (headings and titles repeat).
    An acronym the passages define brings its name's words: "It replaced the RQF" answers a
    question about the Regulated Qualifications Framework."""

    @functools.cache
    def words_of(text: str) -> set[str]:
        names = " ".join(spelled[word] for word in ACRONYM.findall(text) if word in spelled)
        return set(tokens(f"{text} {names}"))

    return words_of


def _leans_on_earlier_turns(question: str) -> bool:
    """A pronoun ("it", "它"), an opening that goes on from the last turn ("And ...", "What about
    ...", "那...呢"), a word or none beyond the question words ("When?", "资金多少？"), or a bare
    phrase ("The budget for 2019?"). Not "Who is X?": it names what it asks about."""
    words = re.findall(r"[\w']+", question.lower())
    content = tokens(question)
    return (
        any(word in _ANAPHORA for word in words)
        or question.lstrip().startswith(_OPENING_ANAPHORA_ZH)
        or bool(_GOES_ON.search(question))
        or (len(content) <= 1 and cues.subject(question) is None)
        or (len(content) <= 2 and not _ASKS.match(question) and not has_cjk(question))
    )


def _leans_back(sentence: str) -> bool:
    """The sentence opens with a word that stands for something named before it, or has a personal
    pronoun within its first words ("At the time she was director ...", "The council adopted them")."""
    first = re.match(r"[\w']+", sentence)
    return (
        bool(first) and first.group().lower() in _OPENING_ANAPHORA
        or sentence.startswith(_OPENING_ANAPHORA_ZH)
        or bool(_EARLY_PERSONAL_PRONOUN.match(sentence))
    )


def _leads_in(sentence: str) -> bool:
    """The sentence introduces what follows it: "The people were divided into five groups:"."""
    return sentence.rstrip().endswith((":", "："))
