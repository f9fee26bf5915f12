"""Reading the prompt: the output contract a conversation states, as a grammar.

When a request does not fix its reply's form itself (``response_format`` json_schema, or
``text.format``; tools decide whether to call, and a reply that calls none still follows
the contract), the engine reads the conversation's system, developer and latest user turns
for one: a JSON Schema, JSON keys or an example, dspy's adapters, a closed set of labels, yes
or no, a number, a list, XML tags (:mod:`.registry` lists them in order). A ``json_object``
request takes the keys a JSON contract names. What was read is a :class:`Contract`; the
structured plan compiles it (:mod:`llmpresets.offline.engine.structured`), so the reply is
drawn with the preset's sampling under that grammar.

Readers are small pure functions ``(PromptText) -> Contract | None``, one module per family
(:mod:`.json_contracts`, :mod:`.dspy`, :mod:`.closed`, :mod:`.lists`); every regex is
bounded (no nested repetition; each message read up to
:data:`~.contract.TEXT_LIMIT` characters).
"""

from .contract import Contract, PromptText, Reader, prompt_text
from .registry import DEFAULT_READERS, read_contract, read_text

__all__ = [
    "DEFAULT_READERS",
    "Contract",
    "PromptText",
    "Reader",
    "prompt_text",
    "read_contract",
    "read_text",
]
