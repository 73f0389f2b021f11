"""Settings from the environment (ASSISTANT_*), and the one-line ConfigError a bad value gives."""

from __future__ import annotations

import pytest

from assistant.config import Settings
from assistant.errors import ConfigError


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_TOP_K", " 7 ")
    monkeypatch.setenv("ASSISTANT_LLM", "OpenAI")
    monkeypatch.setenv("ASSISTANT_PORT", "8080")
    settings = Settings()
    assert (settings.top_k, settings.llm, settings.port) == (7, "openai", 8080)


def test_an_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_TOP_K", "")
    monkeypatch.setenv("ASSISTANT_CHROMA_URL", "")
    settings = Settings()
    assert (settings.top_k, settings.chroma_url) == (Settings.model_fields["top_k"].default, None)


def test_a_value_passed_in_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_TOP_K", "7")
    assert Settings(top_k=3).top_k == 3


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("ASSISTANT_TOP_K", "abc", "ASSISTANT_TOP_K='abc' is not a whole number"),
        ("ASSISTANT_TOP_K", "-1", "ASSISTANT_TOP_K='-1' must be positive"),
        ("ASSISTANT_LLM", "foo", "ASSISTANT_LLM='foo' is not one of extractive, openai, local"),
        ("ASSISTANT_PORT", "99999", "ASSISTANT_PORT='99999': use a port number (1-65535)"),
        ("ASSISTANT_COLLECTION", "a",
         "ASSISTANT_COLLECTION='a': use 3-502 letters, digits, '.', '_' or '-', starting and ending with a letter "
         "or digit"),
        ("ASSISTANT_CHROMA_URL", "ftp://x", "ASSISTANT_CHROMA_URL='ftp://x' is not an http(s)://host[:port] URL"),
    ],
    ids=["top_k=abc", "top_k=-1", "llm=foo", "port=99999", "collection=a", "chroma_url=ftp"],
)
def test_a_bad_value_is_a_config_error_that_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as refused:
        Settings()
    assert str(refused.value).startswith(f"{variable}=")
    assert str(refused.value) == message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", None), ("reader:s3cret", ("reader", "s3cret")), ("reader:a:b", ("reader", "a:b"))],
)
def test_auth_from_env(monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[str, str] | None) -> None:
    monkeypatch.setenv("ASSISTANT_AUTH", raw)
    assert Settings().credentials == expected


@pytest.mark.parametrize("raw", ["reader", ":s3cret", "reader:"])
def test_auth_from_env_refuses_malformed_values(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("ASSISTANT_AUTH", raw)
    with pytest.raises(ConfigError, match="user:password") as refused:
        Settings()
    assert raw not in str(refused.value)  # a password is never echoed
