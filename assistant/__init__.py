"""A document-grounded assistant for China–UK vocational education cooperation."""

__all__: list[str] = []
