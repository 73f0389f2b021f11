"""The few exceptions the core raises; the CLI and UI turn them into messages."""


class AssistantError(Exception):
    """Base class: an expected failure with a message meant for the user."""


class ConfigError(AssistantError):
    """A setting has a value that cannot work."""


class DocumentError(AssistantError):
    """One document could not be read; the message names the reason."""


class DocumentExistsError(DocumentError):
    """A different file of the same name is already in the documents folder."""


class IndexStateError(AssistantError):
    """The index is missing, damaged, busy, or was built with another model."""


class QuestionError(AssistantError):
    """The question cannot be answered as asked (empty, too long, not text)."""
