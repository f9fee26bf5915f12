"""``llmpresets serve``: the ASGI app over the offline transport, and the uvicorn runner."""
