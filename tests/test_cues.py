"""Question-type cues, on hand-made questions and sentences."""

import pytest

from assistant.answering import cues


@pytest.mark.parametrize(
    ("question", "sentence", "offered"),
    [
        ("When did the war end?", "The war ended in 1453 after a long siege.", True),
        ("When did the war end?", "The war ended after a long siege.", False),
        ("When did the 1992 reform start?", "The 1992 reform made polytechnics universities.", False),
        ("How many plays did Denver run?", "Denver ran three plays from the goal line.", True),
        ("How many plays did Denver run?", "Denver ran plays from the goal line.", False),
        ("Who authored the Liber servitoris?", "It was written by Abu al-Qasim al-Zahrawi.", True),
        ("Who authored the Liber servitoris?", "His Liber servitoris is of particular interest.", False),
        ("Where is the river?", "The city lies on the banks of the St. Johns River.", True),
        ("哪一年建成的？", "该桥于1937年建成。", True),
        # A length of time for "how long", not any number.
        ("How long was the memorandum meant to last?", "The memorandum was set to run for three years.", True),
        ("How long was the memorandum meant to last?", "5–7 September 2011: a forum in Guangzhou.", False),
        ("How long can a bootcamp last?", "Maximum course length | 16 weeks", True),
        ("备忘录有效期多长时间？", "备忘录有效期三年。", True),
        ("备忘录有效期多长时间？", "备忘录于2011年7月签署。", False),
        ("第二期建设周期是哪几年？", "第二期建设周期为2025—2029年。", True),
        # A share for "what share", not any number.
        ("What share of HNCs did colleges deliver in 2021?", "Colleges delivered 84% of HNCs.", True),
        ("What share of HNCs did colleges deliver in 2021?", "In May 2021 there were 234 colleges.", False),
        ("What proportion of students passed?", "Just over half of the students passed.", True),
        ("毕业生中就业的占比是多少？", "毕业生就业率达到百分之九十。", True),
        # ... a share even of a sum of money.
        ("What percentage of the budget went on training?", "Training took 40% of it.", True),
        ("What percentage of the budget went on training?", "The budget was £2 million.", False),
        # A sum of money for a question after one.
        ("What was the budget of the memorandum?", "The memorandum had a budget of £2.5 million.", True),
        ("What was the budget of the memorandum?", "The memorandum ran for three years.", False),
        ("四级课程学费是多少英镑？", "四级课程学费为1200英镑。", True),
        # A day, not a year, for "on what date" / "哪天".
        ("On what date did the levy start?", "The levy started on 6 April 2017.", True),
        ("On what date did the levy start?", "The levy started in 2017.", False),
        ("新法从哪天开始施行？", "新法自2022年5月1日起施行。", True),
        ("新法从哪天开始施行？", "新法于2022年施行。", False),
        # A Chinese numeral counts with a measure word; an institution or a post where Chinese has no capitals.
        ("一个T Level抵得上几个A Level？", "一个T Level相当于三个A Level。", True),
        ("英方合作院校是哪所？", "工坊由天津市第二商业学校与奇切斯特学院合作建设。", True),
        ("英方合作院校是哪所？", "工坊于2017年启动。", False),
        ("刘婧担任什么职务？", "此后，英国国际贸易部处长刘婧接受了采访。", True),
        ("刘婧担任什么职务？", "刘婧接受了采访。", False),
    ],
)
def test_a_sentence_offers_what_the_question_asks_for(question: str, sentence: str, offered: bool) -> None:
    pattern = cues.wanted(question)
    assert pattern is not None
    assert cues.offers(pattern, sentence, question) is offered


@pytest.mark.parametrize("question", ["What is the term for such a task?", "How does it work?", "解释一下原因"])
def test_other_questions_want_nothing_in_particular(question: str) -> None:
    assert cues.wanted(question) is None


@pytest.mark.parametrize(
    ("question", "subject"),
    [("Who is Liu Jing?", "Liu Jing"), ("What is a Luban Workshop?", "Luban Workshop"), ("刘婧是谁？", "刘婧"),
     ("什么是鲁班工坊？", "鲁班工坊"), ("When did T Levels launch?", None), ("What did the RQF replace?", None)],
)
def test_a_who_is_or_what_is_question_names_its_subject(question: str, subject: str | None) -> None:
    assert cues.subject(question) == subject


def test_a_sentence_defines_its_subject_only_when_it_opens_by_saying_what_it_is() -> None:
    assert cues.defines("Liu Jing", "Liu Jing, who led the department's skills work in China, spoke first.")
    assert cues.defines("Luban Workshop", "The Luban Workshop (鲁班工坊) is China's best-known project abroad.")
    assert cues.defines("鲁班工坊", "鲁班工坊是天津市首创的职业教育国际合作品牌。")
    assert not cues.defines("Liu Jing", "Liu Jing said that both countries value skills.")
    assert not cues.defines("鲁班工坊", "第一家鲁班工坊于2016年建成。")
    # A Chinese sentence says who someone is by the post before the name.
    assert cues.defines("刘婧", "此后不久，英国国际贸易部驻华教育技能处处长刘婧接受了采访。")
    assert not cues.defines("刘婧", "会上，刘婧介绍了英国的学徒制。")
    # ... or by what a pronoun is, right after a sentence that names the subject.
    assert cues.defines("Liu Jing", "At the time she was director of trade.", "The interviewee was Liu Jing.")
    assert not cues.defines("Liu Jing", "At the time she was director of trade.", "The interviewer was Wang Bo.")


@pytest.mark.parametrize(
    ("question", "passage", "missing"),
    [
        ("What was agreed at the sixth dialogue in 2026?", "The 5th dialogue met in 2021. Six areas.", ["2026", "6th"]),
        ("Who joined for the 10th series?", "In the tenth series, Martha joined.", []),
        ("第六次会议是在什么时间召开的？", "The 6th UK-China dialogue met in 2023.", []),
        ("How many of the 1,500 staff left?", "About 1500 staff worked there.", []),
        ("How many of the 12 teams won?", "Twelve teams took part.", []),
        ("What happened after 5th February 2020?", "On 5 February 2020 cases fell.", []),
        # ... but a bare number is no ordinal: a seventh meeting is not in "seven weeks" nor "7 staff".
        ("When is the seventh meeting?", "The sixth meeting lasts seven weeks; 7 staff attend.", ["7th"]),
        # A single digit is as often part of a name as a figure; "first" and "second" are often plain words.
        ("Does type 5 affect it at first?", "CCR5 affects it.", []),
        # A title taken from a file name parts its words with underscores.
        ("Who sang at Super Bowl 50?", "Super_Bowl_50", []),
        # Chinese writes a year against its characters: "2022年" is a year, and not 2024's.
        ("2022年共有多少名学生参加交流？", "2024年共有38名学生参加交流。", ["2022"]),
    ],
)
def test_a_question_names_figures_the_passages_must_hold(question: str, passage: str, missing: list[str]) -> None:
    assert cues.unmatched_figures(question, [passage]) == missing


@pytest.mark.parametrize(
    ("question", "passage", "missing"),
    [
        ("How many Double High colleges are in Jiangsu?", "Double High colleges were chosen in 2019.", ["Jiangsu"]),
        ("Who is John Smith?", "Liu Jing led the office.", ["John Smith"]),
        # A name is held when its last word is, or nearly: a surname alone, a misspelling.
        ("What did Graham Twigg propose?", "Twigg proposed another cause.", []),
        # A Chinese name's last word is the given name; a short word misspelt is another word.
        ("What did Professor Wang Lei say?", "Professor Wang Li spoke first.", ["Professor Wang Lei"]),
        ("What party is favoured in Bedigo?", "Labor is favoured in Bendigo.", []),
        # A people's word and its country; the countries of this collection are context, not names.
        ("Which Japanese variant spread?", "The variant from Japan spread.", []),
        ("Which British college visited Tianjin?", "Brackenford College visited Tianjin.", []),
        # A kind of thing is no name: "Manchester College" is held only where Manchester is.
        ("How many staff from Manchester College came?", "Staff from Brackenford College came.",
         ["Manchester College"]),
        ("Which colleges in Wuhan joined?", "Ten colleges in Wuxi joined.", ["Wuhan"]),
        # Stems, possessives and the parts of a hyphenated name are matched as the words they are.
        ("How long can a Skills Bootcamp last?", "Skills bootcamps last up to 16 weeks.", []),
        ("What does Ofqual's register hold?", "Ofqual’s register lists qualifications.", []),
        ("What did the China-UK dialogue agree?", "The UK–China dialogue agreed on skills.", []),
        # The question's first word is capitalised whatever it is.
        ("Where was it held?", "It was held in Tianjin.", []),
    ],
)
def test_a_question_names_names_the_passages_must_hold(question: str, passage: str, missing: list[str]) -> None:
    assert cues.unmatched_names(question, [passage]) == missing


@pytest.mark.parametrize(
    ("sentence", "offered"),
    [
        ("It was set up in 2022 because the colleges lacked technicians.", True),
        ("The fund was created in order to train teachers.", True),
        ("中英双方为了培养技术人才建立了伙伴关系。", True),
        # "since" with a date after it is a time, not a reason.
        ("It has run since 2015 with four colleges.", False),
        ("It has run since March with four colleges.", False),
    ],
)
def test_a_why_question_wants_a_reason(sentence: str, offered: bool) -> None:
    question = "Why was the partnership set up?"
    assert cues.offers(cues.wanted(question), sentence, question) is offered
    assert cues.leading(question) is not None and not cues.asks_figure(question)


@pytest.mark.parametrize(
    ("sentence", "byline"),
    [
        ("By Sarah Lindqvist | Published 3 October 2025", True),
        ("Written by Tom Ashworth and Helen Okafor", True),
        ("记者 王芳", True),
        ("Minutes: Eleanor Whitcombe (Tamworth Reach College)", True),
        ("Prepared by the International Office, Harbourside College", True),
        # "By" before a date or a plain phrase is no byline.
        ("By January 2020, the visit had ended.", False),
        ("By then the visit had ended.", False),
    ],
)
def test_a_question_after_the_author_wants_a_byline(sentence: str, byline: bool) -> None:
    assert cues.asks_author("Who wrote the article about the visit?") and cues.asks_author("这篇报道的作者是谁？")
    assert not cues.asks_author("Who led the visit?")
    assert cues.is_byline(sentence) is byline


def test_only_a_question_after_a_sum_of_money_requires_one() -> None:
    assert cues.asks_sum("How much did the government spend on the workshop?")
    assert cues.asks_sum("What is the national minimum wage for apprentices?")
    assert cues.asks_sum("T Level学生每小时的工资标准是多少？")
    # Not every "how much", nor pay as a word, nor where funding comes from.
    assert not cues.asks_sum("How much levy does a company owe?")
    assert not cues.asks_sum("What share of an apprentice's paid time is spent on training?")
    assert not cues.asks_sum("项目的经费来自哪里？")
    assert not cues.asks_sum("When did the levy start?")


def test_a_sum_is_stated_by_a_currency_or_by_its_column_header() -> None:
    question = "How much did the summer school cost?"
    header = "Exchange | Dates | Students | Cost (GBP)"
    sum_asked = cues.wanted(question)
    assert cues.offers(sum_asked, "Summer school | 1-19 July 2024 | 22 | 38,200", question, header)
    assert cues.offers(sum_asked, "The summer school cost £38,200.", question)
    assert not cues.offers(sum_asked, "Summer school | 1-19 July 2024 | 22 | 38,200", question,
                           "Exchange | Dates | Students | Staff")
    assert not cues.offers(sum_asked, "The summer school took 22 students.", question)
    assert cues.phrase(question, f"{header}\nSummer school | 1-19 July 2024 | 22 | 38,200") == "38,200"


@pytest.mark.parametrize(
    ("question", "answer", "words"),
    [
        ("When did the RQF start?", "It came into use on 1 October 2015.", "1 October 2015"),
        ("When was the 2017 forum held?", "The 2017 forum took place on Monday 20 November 2017.", "20 November 2017"),
        ("How many teams took part?", "It attracted 41 teams from 12 cities.", "41"),
        ("How many people attended?", "All twenty-nine participants rated it highly.", "twenty-nine"),
        ("What was the budget?", "A grant of £38,500 covered flights.", "£38,500"),
        ("How much prize money did the team win?", "They share £5,000, beating eleven other teams.", "£5,000"),
        # A later sum followed by a word of the question is not what "how much" asks after.
        ("How much did the exchange cost?", "It cost £212,400.\nA fall would add £45,000 to the cost.", "£212,400"),
        ("How long can a bootcamp last?", "Maximum course length | 16 weeks", "16 weeks"),
        ("英国在哪一年获得称号？", "2021年10月，英国获得称号。", "2021年10月"),
        ("Who spoke for the UK?", "Richard Burn spoke for the UK.", None),  # a name: too loosely told to mark
        # The figure said of a word of the question, in a sentence or under a table's header.
        ("How many workstations does the lab have?", "It covers 420 square metres with 16 workstations.", "16"),
        ("How many apprentices completed in 2022-23?",
         "Cohort | Starters | Completions | Retention\n2022-23 | 24 | 21 | 87.5%", "21"),
        # A year counts nothing: "how much sooner" is not answered by the year of the sentence before.
        ("How much sooner do graduates reach the standard?",
         "The course began in spring 2024.\nGraduates reach the standard six months sooner.", "six"),
        # "20" is not stated by the question's "2025": only a figure the question says whole is.
        ("How many students will enrol from September 2025?",
         "From September 2025 the Level 3 Diploma is taught jointly, with 20 students enrolling.", "20"),
    ],
)
def test_the_words_that_answer_are_the_first_figure_of_the_kind_asked_for(
    question: str, answer: str, words: str | None
) -> None:
    assert cues.phrase(question, answer) == words


def test_a_question_after_an_author_is_searched_without_the_words_that_name_a_text() -> None:
    # "news" and "article" are not in the article: they sank its page below the answer gate.
    assert cues.searched_for("Who wrote the news article about the Derby placements?").split() == [
        "Who", "the", "about", "the", "Derby", "placements?"
    ]
    assert cues.searched_for("What did the article say about Derby?") == "What did the article say about Derby?"
    assert cues.searched_for("这篇报道的作者是谁？") == "这篇报道的作者是谁？"
