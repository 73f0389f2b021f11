"""The int8 ONNX backend against the torch model it was exported from, and its on-disk cache."""

import re
from pathlib import Path

import numpy as np
import pytest

from assistant.config import Settings
from assistant.embed.embeddings import LocalEmbeddings, load_embeddings, model_folder
from assistant.embed.onnx_model import int8_model, model_digest
from assistant.errors import ConfigError, IndexStateError
from assistant.store.sync import sync
from tests.conftest import open_store, write

# Different lengths in one batch, so padded rows are compared too.
SENTENCES = [
    "The apprenticeship levy started on 6 April 2017 at 0.5% of an employer's pay bill.",
    "How long is the T Level industry placement?",
    "The Regulated Qualifications Framework started on 1 October 2015 and replaced the QCF, "
    "keeping Entry levels 1-3 and Levels 1-8 for every regulated qualification in England.",
    "Each deacon in full connection is a member of what?",
    "中英职业教育合作项目于2019年启动。",
]
# On 397 XQuAD questions and 200 of its paragraphs the lowest int8-to-torch cosine was 0.987;
# one-word texts can dip lower (0.978 for "When?"), so none is used here.
MIN_COSINE = 0.98


@pytest.fixture(scope="module")
def torch_embeddings() -> LocalEmbeddings:
    return load_embeddings(Settings(embedding_backend="torch"))


def test_one_model_per_process_and_backend(embeddings: LocalEmbeddings, torch_embeddings: LocalEmbeddings) -> None:
    settings = Settings()
    assert load_embeddings(settings) is embeddings is load_embeddings()
    assert torch_embeddings is not embeddings


def test_int8_vectors_match_the_torch_model(embeddings: LocalEmbeddings, torch_embeddings: LocalEmbeddings) -> None:
    cosines = np.sum(embeddings.encode(SENTENCES) * torch_embeddings.encode(SENTENCES), axis=1)
    assert cosines.min() >= MIN_COSINE, cosines


def test_sentence_vectors_come_from_int8_token_embeddings(
    embeddings: LocalEmbeddings, torch_embeddings: LocalEmbeddings
) -> None:
    text = "T Levels launched in September 2020. Each T Level is worth three A levels."
    # A longer text beside it, so the first one's token embeddings come padded.
    ours = embeddings.encode_with_sentences([text, SENTENCES[2]])[1][0]
    theirs = torch_embeddings.encode_with_sentences([text, SENTENCES[2]])[1][0]
    assert [s for s, _ in ours] == ["T Levels launched in September 2020.", "Each T Level is worth three A levels."]
    for (_, a), (_, b) in zip(ours, theirs, strict=True):
        assert np.linalg.norm(a) == pytest.approx(1.0, abs=1e-5)
        assert float(a @ b) >= MIN_COSINE


def test_an_index_built_with_torch_is_refused_by_int8(
    settings: Settings, embeddings: LocalEmbeddings, torch_embeddings: LocalEmbeddings
) -> None:
    write(settings.docs_dir, "levy.md", SENTENCES[0])
    sync(settings, embeddings=torch_embeddings)
    assert embeddings.model_name == "sentence-transformers/all-MiniLM-L6-v2@onnx-int8"
    with pytest.raises(IndexStateError, match=r"built with embedding model 'sentence-transformers/all-MiniLM-L6-v2', "
                       r"not '.*@onnx-int8'; run `assistant index --rebuild"):
        open_store(settings, embeddings)


def test_a_second_load_reuses_the_cached_export(model_cache: Path, embeddings: LocalEmbeddings) -> None:
    folder = model_folder(None)
    cached = int8_model(folder, model_cache)
    before = (cached.stat().st_mtime_ns, sorted(p.name for p in model_cache.iterdir()))
    again = LocalEmbeddings(folder, "again", "onnx-int8", model_cache)
    assert (cached.stat().st_mtime_ns, sorted(p.name for p in model_cache.iterdir())) == before
    assert np.allclose(again.encode(SENTENCES[:1]), embeddings.encode(SENTENCES[:1]))


def test_the_cache_key_follows_the_model_files_not_the_folder(tmp_path: Path) -> None:
    one, same, other = (write(tmp_path / name, "config.json", text).parent for name, text in
                        [("one", '{"hidden_size": 384}'), ("same", '{"hidden_size": 384}'), ("other", "{}")])
    assert model_digest(one) == model_digest(same) != model_digest(other)


def test_a_model_that_cannot_be_exported_is_a_config_error(tmp_path: Path) -> None:
    broken = write(tmp_path / "broken", "config.json", "{}").parent
    cache = tmp_path / "cache"
    with pytest.raises(ConfigError, match=rf"{re.escape(str(broken))}.*ASSISTANT_EMBEDDING_BACKEND=torch"):
        int8_model(broken, cache)
    assert list(cache.iterdir()) == []  # nothing half-written left behind
