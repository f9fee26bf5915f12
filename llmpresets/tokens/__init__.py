"""Token counting as the API bills it: tiktoken's encodings loaded offline and verified,
message and tool counting, the context check and fitting a conversation to a window, and the
message shapes they read (chat messages, Responses input items).

Imports only :mod:`llmpresets.config` below it. Its modules:

- ``encodings.py``: tiktoken's encodings, loaded offline and verified;
- ``safe_encoding.py``: tiktoken's ``Encoding`` without its crash on long whitespace;
- ``images.py``: image tokens by OpenAI's tile rule;
- ``counting.py``: tokens of text, messages and tool definitions;
- ``messages.py``: Responses input items as the chat messages counting reads;
- ``fit.py``: the context check and fitting a conversation to a window.
"""
