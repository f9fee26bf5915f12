"""Token counting as the API bills it: tiktoken's encodings loaded offline and verified,
message and tool counting, the context check and fitting a conversation to a window, and the
message shapes they read (chat messages, Responses input items).

Imports only :mod:`llmpresets.config` below it.
"""
