"""Question-type cues: the kind of answer a question asks for, and whether a sentence offers one."""

from __future__ import annotations

import difflib
import re

from assistant.text import BYLINE, CJK_CHARS, tokens

_WHEN = re.compile(
    r"^\s*(when|what (year|date|day|month|century|decade)|in (what|which) (year|century|decade))\b"
    r"|何时|什么时候|哪一?年",
    re.I,
)
_HOW_MANY = re.compile(
    r"^\s*(how (many|much|old|large|big|far|often)|what (number|amount))\b"
    r"|多少|几",
    re.I,
)
_HOW_LONG = re.compile(r"^\s*(for\s+)?how long\b|多长时间|多久|(?<!哪)几(年|个月|周|天)", re.I)
# A question after a sum of money: "How much did the government spend ...?", "What was the budget
# of ...?", "学费是多少英镑？". Not every "how much" ("How much levy does it owe?") nor "paid time".
_MONEY_ASK = re.compile(
    r"^\s*how much\b.*\b(cost|spend|spent|pay|paid|fund|funded|funding|grant|budget|fee|earn|invest(ed)?|money|prize)\b"
    r"|\b(what|which)\b.{0,30}\b(budget|cost|fees?|price|wage|salary|funding|grant)\b"
    r"|(学费|工资|费用|预算|经费|拨款|价格)[^？?]{0,6}多少|多少(钱|元|英镑|美元)",
    re.I,
)
# A question after a share: "What percentage of ...?", "What share of HNCs ...?", "占比多少？". It
# wants a share, not any number (measured, answer hit: the collection's English questions 0.903 ->
# 0.912, COVID-QA 0.560 -> 0.5625, XQuAD-en unchanged).
_PERCENT_ASK = re.compile(
    r"\bwhat (percentage|proportion|share|fraction|per ?cent)\b|\bhow many per ?cent\b"
    r"|百分之几|百分比|占比|比例|比重|几成",
    re.I,
)
_WHO_WHERE = re.compile(r"\b(who|whom|whose)\b|^\s*where\b", re.I)
_WHICH_DAY = re.compile(r"^\s*(on\s+)?(what|which)\s+(date|day)\b|哪天|哪一天|哪日|几月几日|几号", re.I)
# Chinese has no capitals to tell a name by: "哪所学院" wants an institution's name, "谁"/"哪位"/
# "什么职务" a person's post.
_WHICH_BODY_ZH = re.compile(r"哪一?(所|家)|哪个(部门|机构|单位|组织)|什么(学校|学院|机构|组织|部门|单位)")
_WHO_ZH = re.compile(r"谁|哪位|什么职务|什么职位|担任什么")

_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(rf"\b(1[0-9]{{3}}|20[0-9]{{2}})s?\b|\b({_MONTHS}|century)\b|\d+\s*年")
_DAY = re.compile(
    rf"\b\d{{1,2}}(st|nd|rd|th)?\s+({_MONTHS})\b|\b({_MONTHS})\s+\d{{1,2}}\b|\d{{1,2}}\s*月\s*\d{{1,2}}\s*日"
    r"|\b(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|星期|周[一二三四五六日]"
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|half)\b"
    # A Chinese numeral counts something when a measure word follows it: "三个", "六名", "第二届".
    r"|[两二三四五六七八九十百千万亿]+\s*[个名所家项条届年次人位天周倍月期批]|第[一二三四五六七八九十]+",
    re.I,
)
# A length of time (or of road): "three years", "16 weeks", "315 hours", "12 km", "三年", "45天".
_DURATION = re.compile(
    r"\b(\d[\d,.]*|a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundred|several|few)[\s-]+(year|month|week|day|hour|minute|second|decade|century|mile|kilomet(er|re)|km|"
    r"met(er|re)|foot|feet)s?\b"
    # In Chinese "2011年" and "7月" are dates, "三年" and "七个月" lengths.
    r"|(?<!\d)(\d{1,3}|[两二三四五六七八九十百]+)\s*(年(?![级度])|个月|个?星期|周(?!年)|天|个?小时|分钟|公里)",
    re.I,
)
_PERCENT = re.compile(
    r"\d[\d,]*(?:\.\d+)?\s*(?:%|per ?cent\b)|百分之[零〇一二三四五六七八九十百点]+|[一二三四五六七八九]成"
    r"|\b(?:half|a third|two[- ]thirds|a quarter|three[- ]quarters)\b",
    re.I,
)
_MONEY = re.compile(
    r"[£$€¥]\s?\d|\d[\d,.]*\s*(yuan|pounds?|dollars?|euros?|元|英镑|美元|万元|亿元)|\b(million|billion)\b|[万亿]元",
    re.I,
)
# A question after a reason or purpose, and a sentence that gives one ("because", "in order to",
# "旨在"); "since" only where no date follows it ("since 2015" is a time).
_WHY = re.compile(r"\bwhy\b|为什么|为何|什么原因", re.I)
_CAUSE = re.compile(
    rf"\b(because|since(?!\s+(\d|the\s+\d|then|{_MONTHS}))|so that|in order to|due to|owing to|as a result|"
    r"thanks to|reasons?|aim(s|ed)? (to|at)|intended to|designed to|purpose|caus(e|es|ed) by|leads? to|led to)\b"
    r"|因为|由于|为了|旨在|目的|原因",
    re.I,
)
_BODY_ZH = re.compile(r"[\u4e00-\u9fff]{2,12}(学院|大学|学校|中心|部|局|委员会|协会|研究院|研究所|公司|集团|基金会)")
_POST_ZH = re.compile(r"(处长|主任|部长|大臣|主席|院长|校长|局长|司长|大使|书记|总监|经理|教授|会长|首相|总理|秘书长)")
# A capitalised word inside a sentence (not its first word): most often a name or a place.
_NAME = re.compile(r"(?<=[\s(\"“])[A-Z][\w'’.-]+")


def wanted(question: str) -> re.Pattern | None:
    """What an answer to ``question`` must hold: a date, a number, a name, or no telling."""
    if _WHICH_DAY.search(question):
        return _DAY
    if _WHEN.search(question):
        return _DATE
    if _PERCENT_ASK.search(question):  # "What percentage of the budget ...?" wants a share
        return _PERCENT
    if _MONEY_ASK.search(question):
        return _MONEY
    if _HOW_LONG.search(question):
        return _DURATION
    if _HOW_MANY.search(question):
        return _NUMBER
    if _WHY.search(question):
        return _CAUSE
    if _WHICH_BODY_ZH.search(question):
        return _BODY_ZH
    if _WHO_ZH.search(question):
        return _POST_ZH
    if _WHO_WHERE.search(question):
        return _NAME
    return None


def leading(question: str) -> re.Pattern | None:
    """What the first sentence of an answer should hold: the date, number or reason ``question``
    asks for. Not a name (any capitalised word passes for one) nor a Chinese body or post: too loose
    a sign to reorder by."""
    pattern = wanted(question)
    return None if pattern in (_NAME, _BODY_ZH, _POST_ZH) else pattern


def asks_figure(question: str) -> bool:
    """The question asks for a date, a number, a share, a sum or a length of time: a sign so exact that a
    sentence holding one is much likelier to answer."""
    return wanted(question) in (_DATE, _DAY, _NUMBER, _PERCENT, _MONEY, _DURATION)


# The whole of a figure, as a reader would mark it: "1 October 2015", "2021年10月", "41",
# "£38,500", "2.5 million", "twenty-nine".
_WHOLE_DATE = re.compile(
    rf"\b(?:\d{{1,2}}(?:st|nd|rd|th)?\s+)?(?:{_MONTHS})(?:\s+\d{{1,2}}(?:st|nd|rd|th)?(?!\d))?(?:,?\s+\d{{4}})?"
    r"|\b\d{4}s?\b|\d{4}\s*年(?:\d{1,2}\s*月(?:\d{1,2}\s*日)?)?|\d{1,2}\s*月\s*\d{1,2}\s*日"
)
_WHOLE_NUMBER = re.compile(
    r"[£$€¥]?\d(?:[\d,]*\d)?(?:\.\d+)?(?:\s*(?:%|per cent|percent)|\s+(?:thousand|million|billion))?"
    r"|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred"
    r"|thousand|million|billion|dozen|half)(?:-\w+)?\b"
    r"|[两二三四五六七八九十百千万亿]+\s*[个名所家项条届年次人位天周倍月期批]|第[一二三四五六七八九十]+",
    re.I,
)
_WHOLE_MONEY = re.compile(
    r"[£$€¥]\s?\d(?:[\d,]*\d)?(?:\.\d+)?(?:\s*(?:million|billion|bn|m)\b)?"
    r"|\d(?:[\d,]*\d)?(?:\.\d+)?\s*(?:million\s+|billion\s+)?(?:yuan|pounds?|dollars?|euros?|元|英镑|美元|万元|亿元)",
    re.I,
)


# A table column of sums names its currency in its header: "Cost (GBP)", "Budget, £", "金额（元）".
_CURRENCY_HEADER = re.compile(r"\b(GBP|USD|EUR|RMB|CNY|pounds?|dollars?|euros?|yuan)\b|[£$€¥]|英镑|美元|元", re.I)
_BARE_NUMBER = re.compile(r"\d(?:[\d,]*\d)?(?:\.\d+)?")


def _sums_in_row(row: list[str], header: list[str]) -> list[tuple[int, str]]:
    """The cells of a table row that are sums by their column: a bare number under a header that
    names a currency ("38,200" under "Cost (GBP)")."""
    if len(row) < 2 or len(header) != len(row):
        return []
    return [
        (i, cell) for i, (cell, name) in enumerate(zip(row, header, strict=True))
        if _CURRENCY_HEADER.search(name) and _BARE_NUMBER.fullmatch(cell)
    ]


def phrase(question: str, answer: str) -> str | None:
    """The words of ``answer`` (its quotes a line each) that answer ``question``: a date, number,
    sum or length of time of the kind the question asks for that the question does not state (a
    name or a body is too loosely told by its capitals to mark). The first said of a word of the
    question ("16 workstations" for "How many workstations ...?", in a table row the cell under
    "Completions" for "How many completed ...?"), else the first."""
    whole = {_DATE: _WHOLE_DATE, _DAY: _WHOLE_DATE, _NUMBER: _WHOLE_NUMBER, _MONEY: _WHOLE_MONEY,
             _PERCENT: _PERCENT, _DURATION: _DURATION}.get(wanted(question))
    if whole is None:
        return None
    asked = question.lower()
    # What a table's column is named after may be any word of the question; what a number in a
    # sentence counts, only the thing "how many" asks after ("how many workstations").
    counted = _COUNTED.search(question)
    named_words, counted_words = set(tokens(question)), set(tokens(counted.group(1))) if counted else set()
    found: list[tuple[str, set[str]]] = []  # each figure, and the words that say what it is
    header: list[str] = []
    for line in answer.splitlines():
        cells = [cell.strip() for cell in line.split("|")] if "|" in line else [line]
        # A sum's column may give its currency once, in the header: its cells are bare numbers.
        sums = dict(_sums_in_row(cells, header)) if whole is _WHOLE_MONEY else {}
        if len(cells) > 1 and not sums and not any(whole.search(cell) for cell in cells):
            header = cells  # a table's header row: it says what each cell below is
            continue
        for i, figure in sums.items():
            if not _states(asked, figure):
                found.append((figure, _forms(header[i], named_words)))
        for i, cell in enumerate(cells):
            for match in whole.finditer(cell):
                if (figure := match.group().strip()) and not _states(asked, figure):
                    if len(cells) > 1 and len(header) == len(cells):
                        found.append((figure, _forms(header[i], named_words)))
                    else:
                        found.append((figure, _forms(" ".join(cell[match.end():].split()[:2]), counted_words)))
    said_of_asked = (figure for figure, words in found if words)
    # A year counts nothing: "how much sooner" is answered by "six months", not by "spring 2024" before it.
    counts = (figure for figure, _ in found if not (whole is _WHOLE_NUMBER and _YEAR.fullmatch(figure)))
    return next(said_of_asked, next(counts, found[0][0] if found else None))


# "How many Xuzhou lecturers will ...": the words after "how many", up to its verb.
_COUNTED = re.compile(r"\bhow many\s+((?:[\w'-]+\s+){0,2}?[\w'-]+?)(?=\s+(?:are|were|is|was|did|do|does|have|has|had"
                      r"|will|would|can|could|should|in|at|on|of|for|from)\b|\s*\?|$)", re.I)


def _forms(text: str, words: set[str]) -> set[str]:
    """The words of ``text`` that are one of ``words`` or a form of one ("completion" of "complet":
    the same first five letters)."""
    return {a for a in tokens(text) for b in words if a == b or (len(a) >= 5 and len(b) >= 5 and a[:5] == b[:5])}


# A year as a figure ("2023", "2023年", "2023-24"), not part of a longer number.
_YEAR = re.compile(r"(?<![\d.,])(?:19|20)\d\d(?!\d|[.,]\d)")


def years(text: str) -> set[str]:
    """The years ``text`` names."""
    return set(_YEAR.findall(text))


def asks_sum(question: str) -> bool:
    """The question asks for a sum of money: an answer cannot do without one (``offers`` it). (A
    date or a number is too common a thing for its absence to say the documents have no answer.)"""
    return wanted(question) is _MONEY


def offers(pattern: re.Pattern, sentence: str, question: str, header: str = "") -> bool:
    """The sentence holds a date, number or name that the question does not already state:
    "What happened in 1992?" is not answered by any sentence that mentions 1992. A table row's sum
    may be a bare number in a column whose ``header`` names a currency ("38,200" under "Cost (GBP)")."""
    asked = question.lower()
    if any(not _states(asked, match.group()) for match in pattern.finditer(sentence)):
        return True
    if pattern is not _MONEY or not header:
        return False
    row, names = ([cell.strip() for cell in line.split("|")] for line in (sentence, header))
    return any(not _states(asked, cell) for _, cell in _sums_in_row(row, names))


def _states(asked: str, found: str) -> bool:
    """The question (lower case) says ``found`` itself, not only within a longer word or figure:
    "20" is not said by "September 2025", "Wang" not by "Wangfujing"."""
    found = found.strip().lower()
    at = asked.find(found) if found else -1
    while at >= 0:  # str.find, not a pattern per figure: compiling one costs a millisecond
        end = at + len(found)
        if not _WORD_CHAR.match(asked[at - 1:at]) and not _WORD_CHAR.match(asked[end:end + 1]):
            return True
        at = asked.find(found, at + 1)
    return False


# A character that goes on a word (Chinese characters part words as spaces do here: "2022年").
_WORD_CHAR = re.compile(rf"[^\W{CJK_CHARS}]")


# A question after who wrote a text (its answer leads with the byline, ``text.BYLINE``).
_AUTHOR_ASK = re.compile(
    r"\bwho\b.*\b(wrote|write|written|authored)\b|\bauthors?\b|\bwritten by\b|谁写|作者|撰写|撰稿", re.I
)


def asks_author(question: str) -> bool:
    """The question asks who wrote a text: "Who wrote the report?", "这篇报道的作者是谁？"."""
    return bool(_AUTHOR_ASK.search(question))


# In a question after who wrote a text, the words that say it is one ("the news article") are about
# the document, seldom in it: searched for, they sank the page with the byline below the answer
# gate. (Not in Chinese: "报道", "文章" read through the dictionary are what reach an English byline.)
_TEXT_WORDS = re.compile(
    r"\b(?:news|articles?|stor(?:y|ies)|pieces?|posts?|blogs?|wrote|written|writes?|authored|authors?)\b", re.I
)


def searched_for(question: str) -> str:
    """What to search the documents with: the question, less the words that only say it asks
    after the author of a text."""
    return _TEXT_WORDS.sub(" ", question) if asks_author(question) else question


def is_byline(sentence: str) -> bool:
    """The sentence is a byline: "By Sarah Lindqvist | Published 3 October 2025"."""
    return bool(BYLINE.match(sentence.strip()))


# "Who is X?", "What is a Y?", "X是谁？", "什么是Y？": the question asks what its subject is.
_DEFINITION = re.compile(
    r"^\s*(?:who|what)\s+(?:is|are|was|were)\s+(?:an?\s+|the\s+)?(?P<subject>[^?]+?)\s*\??\s*$", re.I
)
_DEFINITION_ZH = re.compile(r"^\s*(?:什么是(?P<what>[^？?]+)|(?P<who>[^？?]+?)是(?:谁|什么))\s*[？?]?\s*$")


def subject(question: str) -> str | None:
    """What a "who is" or "what is" question asks about, or None for other questions."""
    if found := _DEFINITION.match(question):
        return found.group("subject")
    if found := _DEFINITION_ZH.match(question):
        return found.group("what") or found.group("who")
    return None


def defines(subject: str, sentence: str, before: str = "") -> bool:
    """The sentence opens by saying what ``subject`` is: "Liu Jing, who led ...", "A Luban Workshop
    is ...", "鲁班工坊是……"; or, after a sentence (``before``) that names it, "At the time she was
    director of ..."."""
    name = re.escape(subject)
    if before and re.search(name, before, re.I) and _SAYS_WHAT_IT_IS.match(sentence):
        return True
    return bool(
        re.match(rf"(?:the\s+|an?\s+)?{name}(?:\s*\([^)]*\))?(?:,|\s+(?:is|was|are|were|has been)\b)", sentence, re.I)
        or re.match(rf"{name}(?:（[^）]*）)?[，,]?(?:是|为|现任|担任|曾任)", sentence)
        or re.search(rf"{_CHINESE_TITLE_END}{name}", sentence)
    )


# A pronoun in a sentence's first words, then what it is: "At the time she was director of ...".
_SAYS_WHAT_IT_IS = re.compile(
    r"^(?:[\w,]+\s+){0,4}?(?:he|she|it|they)\s+(?:is|was|are|were|has been|served as)\b", re.I
)
# Chinese puts a person's post straight before the name ("……处处长刘婧", "部长王晓萍"): the last
# character of the common titles (处长, 主任, 大臣, 主席, 总理, 首相, 教授, 院士, 委员, 理事, 大使, 书记, 总监).
_CHINESE_TITLE_END = "[长任臣席理相授士员事使记监]"


_ORDINAL_WORDS = {
    w: n for n, w in enumerate("first second third fourth fifth sixth seventh eighth ninth tenth".split(), start=1)
}
_NUMBER_WORDS = {
    w: n for n, w in enumerate(
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
        "eighteen nineteen twenty".split(), start=1,
    )
}
_CHINESE_DIGITS = {c: n for n, c in enumerate("一二三四五六七八九十", start=1)}


def _figure_pattern(ordinals: list[str], numbers: list[str]) -> re.Pattern:
    # Chinese writes a figure against its characters ("2022年", "共38名"): they part it as a space does.
    return re.compile(
        rf"(?<![^\W{CJK_CHARS}])(?<!\.)(\d[\d,]*(?:\.\d+)?)(st|nd|rd|th)?(?![^\W{CJK_CHARS}])|第([一二三四五六七八九十])(?![一二三四五六七八九十])"
        rf"|\b({'|'.join(ordinals)})\b|\b({'|'.join(numbers)})\b",
        re.I,
    )


# A figure a question names: a number ("2026", "5.2", "1,500"), an ordinal ("6th", "sixth", "第六");
# not "first" or "second", as often plain words ("at first", "a second"), nor a number in words.
_FIGURE = _figure_pattern(list(_ORDINAL_WORDS)[2:], ["(?!x)x"])
# A passage may write either way: "the six-member team", "in the second half".
_FIGURE_IN_TEXT = _figure_pattern(list(_ORDINAL_WORDS), list(_NUMBER_WORDS))


def _figures(pattern: re.Pattern, text: str) -> set[str]:
    """The figures ``pattern`` finds, in one spelling: "2026", "1500", "6th" (for "6th", "sixth",
    "第六"), "6 in words" (for "six")."""
    found = set()
    # An underscore parts words as a space does: a title taken from a file name, "Annual_Report_2023".
    for match in pattern.finditer(text.replace("_", " ")):
        digits, suffix, chinese, ordinal, word = match.groups()
        if digits:
            found.add(digits.replace(",", "") + ("th" if suffix else ""))
        elif chinese:
            found.add(f"{_CHINESE_DIGITS[chinese]}th")
        elif ordinal:
            found.add(f"{_ORDINAL_WORDS[ordinal.lower()]}th")
        elif word:  # "six" holds a 6 but not "6th": the sixth dialogue is not in "six areas"
            found.add(f"{_NUMBER_WORDS[word.lower()]} in words")
    return found


# A day of a month holds its ordinal: "the 5th" is in "5 February" and in "February 5" (but not in
# "seven weeks" nor in "7 apprentices").
_DAY_OF_MONTH = re.compile(rf"\b(\d{{1,2}})\s+(?:{_MONTHS})\b|\b(?:{_MONTHS})\s+(\d{{1,2}})\b")


def unmatched_figures(question: str, passages: list[str]) -> list[str]:
    """The years, numbers and ordinals the question names that no passage holds, in digits: "the
    sixth dialogue" or "in 2026" cannot be answered from passages about the fifth or about 2021.

    A passage may write a number out ("the six-member team") and an ordinal any way ("6th",
    "sixth", "第六"), or a day without its suffix ("5th February" as "5 February"); a bare number
    is no ordinal ("7 apprentices" holds no "seventh"). A number of one
    digit is left out: as often part of a name ("type 5", "Level 3") as a figure that matters.
    """
    held = set().union(*(_figures(_FIGURE_IN_TEXT, text) for text in passages)) if passages else set()
    held |= {f"{int(day)}th" for text in passages for found in _DAY_OF_MONTH.finditer(text)
             for day in found.groups() if day}
    missing = []
    for figure in _figures(_FIGURE, question):
        if figure.endswith("th"):
            found = figure in held
        else:
            found = len(figure) == 1 or figure in held or f"{figure} in words" in held
        if not found:
            missing.append(figure)
    return sorted(missing)


# A name a question gives: capitalised words after its first ("Jiangsu", "John Smith", "Ofqual's"),
# not an acronym (a passage may spell it out) nor a word run into a digit ("Internet2").
_QUESTION_NAME = re.compile(r"(?<=[\s(\"“‘'])(?:[A-Z][^\W\d_]*[a-z][^\W\d_]*(?:['’]s?)?\s?)+(?![\w-])")
# How close a word must be to one of the passages' to be taken for it: "Bendigo" for "Bedigo",
# "India" for "Indian", "Sheepshanks" for "Sheeshanks" (difflib's ratio).
_SPELLING_CLOSE = 0.8
_SPELLING_MIN_LETTERS = 4
# A people's word shares its country's first letters: "Japanese" and "Japan", "Indian" and "India".
_PEOPLE_WORD = re.compile(r"^(?P<stem>\w{4}).*(?:ese|ish|ian|an)$")
# Words that say what kind of thing a name is, not which ("Manchester College", "Jiangsu Province"),
# and the countries of this collection, which a question gives as context ("Which British college
# ...?") where a document may name neither: they tell no name from another.
_NOT_DISTINCTIVE = frozenset(tokens(
    "college university institute polytechnic school academy ministry department council committee association "
    "centre center foundation agency office team group programme program project workshop conference forum "
    "summit dialogue province city county uk britain british england english scotland scottish wales welsh "
    "china chinese prc", chinese=False,
))


def unmatched_names(question: str, passages: list[str]) -> list[str]:
    """The names the question gives that the passages do not hold: "How many Double High colleges
    are in Jiangsu?" cannot be answered from passages that never say Jiangsu, nor "Who is John
    Smith?" from passages without "Smith". A name is held when its last word is, as ``tokens``
    finds it ("Bootcamp" is in "bootcamps"), spelt nearly so (questions misspell names) or as its
    country ("Japanese" for "Japan"); words such as "College" or "British" tell no name from another
    and are not looked for."""
    held = set(tokens(" ".join(passages), chinese=False))
    missing = []
    for name in _QUESTION_NAME.findall(question):
        words = [w for w in tokens(name, chinese=False) if w not in _NOT_DISTINCTIVE]
        # The last word tells one person from another: an English surname ("Ashcombe" for "Dr
        # Miriam Ashcombe"), a Chinese given name ("Lei" in "Wang Lei": Wang is a common surname).
        if words and not _held(words[-1], held):
            missing.append(name.strip())
    return missing


def _held(word: str, held: set[str]) -> bool:
    if word in held:
        return True
    # A short word misspelt is another word: "Lei" is not "Li".
    if len(word) >= _SPELLING_MIN_LETTERS and difflib.get_close_matches(word, held, 1, _SPELLING_CLOSE):
        return True
    people = _PEOPLE_WORD.match(word)
    return bool(people) and any(w.startswith(people.group("stem")) for w in held)
