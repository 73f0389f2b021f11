"""HybridRetriever as a LangChain retriever: Documents with their scores, composable in an LCEL chain."""

from __future__ import annotations

from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda

from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings
from assistant.search.retriever import HybridRetriever, LexicalIndex
from assistant.store.sync import sync
from tests.conftest import write
from tests.samples import LEVY_DOC, RQF


def test_the_retriever_is_a_langchain_retriever(settings: Settings, embeddings: LocalEmbeddings) -> None:
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    write(settings.docs_dir, "rqf.md", f"# Regulated Qualifications Framework\n\n{RQF}\n")
    sync(settings, embeddings=embeddings)
    retriever = HybridRetriever.open(settings, embeddings)

    docs = retriever.invoke("When did the apprenticeship levy start?")
    assert docs and all(isinstance(d, Document) for d in docs)
    assert docs[0].metadata["source"] == "levy.md" and "6 April 2017" in docs[0].page_content
    assert {"source", "relevance", "similarity", "coverage", "ids"} <= docs[0].metadata.keys()
    assert docs[0].metadata["relevance"] >= settings.min_relevance
    assert all(isinstance(d.metadata["relevance"], float) for d in docs)

    sources = retriever | RunnableLambda(lambda found: [d.metadata["source"] for d in found])
    assert sources.invoke("When did the Regulated Qualifications Framework start?")[0] == "rqf.md"
    assert [found[0] for found in sources.batch(["the apprenticeship levy", "the RQF and the QCF"])] == [
        "levy.md", "rqf.md"
    ]


def test_an_acronym_the_documents_define_is_searched_in_its_long_form_too(
    settings: Settings, embeddings: LocalEmbeddings
) -> None:
    # The model does not know "WVTEDC", and the passage that answers names the conference in full.
    write(settings.docs_dir, "conference.md", (
        "# The World Vocational and Technical Education Development Conference\n\n"
        "The World Vocational and Technical Education Development Conference (WVTEDC) first met in Tianjin.\n\n"
        "## Frequency\n\nThe World Vocational and Technical Education Development Conference is held every two "
        "years, the Ministry of Education says.\n"
    ))
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    sync(settings, embeddings=embeddings)
    retriever = HybridRetriever.open(settings, embeddings)

    question = "How often does the WVTEDC take place?"
    assert retriever.expand(question) == (
        f"{question} (WVTEDC: World Vocational and Technical Education Development Conference)"
    )
    best = retriever.search(question)[0]
    assert "every two years" in best.text and best.relevance >= settings.min_relevance


def test_an_english_only_model_judges_a_chinese_passage_by_its_words(
    settings: Settings, embeddings: LocalEmbeddings
) -> None:
    # MiniLM's vector of Chinese text is mostly unknown word pieces: its cosine with an English
    # question says nothing, so only the words the two share count ("Luban Workshop", half the question's).
    assert not embeddings.reads_chinese
    write(settings.docs_dir, "luban.md", "# 鲁班工坊\n\n鲁班工坊（Luban Workshop）是中国职业院校在海外建立的培训中心，"
          "第一个于2016年在泰国建立。\n")
    write(settings.docs_dir, "levy.md", LEVY_DOC)
    sync(settings, embeddings=embeddings)
    passages = HybridRetriever.open(settings, embeddings).search("Where was the first Luban Workshop set up?")
    chinese = next(p for p in passages if p.metadata["source"] == "luban.md")
    assert chinese.relevance == chinese.coverage > 0


def test_neighbouring_chunks_over_a_page_break_cite_both_pages() -> None:
    from assistant.search.retriever import _merge_neighbours
    from assistant.types import Passage, Source

    def chunk(number: int, page: int, text: str) -> Passage:
        return Passage([f"c{number}"], text, {"source": "r.pdf", "chunk": number, "page": page}, 0.5, 0.5)

    [merged] = _merge_neighbours([chunk(4, 2, "Numbers doubled."), chunk(3, 1, "The committee met.")])
    assert merged.text == "The committee met.\nNumbers doubled."
    assert (merged.metadata["page"], merged.metadata["last_page"]) == (1, 2)
    source = Source(1, "r.pdf", "Report", merged.metadata["page"], merged.text, 0.5, (), merged.metadata["last_page"])
    assert source.pages == ", pages 1–2"
    [alone] = _merge_neighbours([chunk(7, 3, "Plans for 2025.")])
    assert "last_page" not in alone.metadata


def test_a_long_word_of_the_question_is_found_in_its_derivations() -> None:
    texts = ["Accreditation of the shared standard is by the Institute.", "Nurses train for three years."]
    lexical = LexicalIndex(["a", "b"], texts, [{"language": "en"}, {"language": "en"}])
    assert "accreditation" in lexical.with_derivations("accredit")
    # A short word would find too many others ("nurse": "nursery"): it stands for itself.
    assert lexical.with_derivations("nurs") == frozenset(["nurs"])
