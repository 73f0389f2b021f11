"""A document-grounded assistant for China–UK vocational education cooperation."""

from assistant.answer import Answer, Source, answer, stream_answer

__all__ = ["Answer", "Source", "answer", "stream_answer"]
