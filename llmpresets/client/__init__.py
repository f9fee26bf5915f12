"""The client: a preset resolved for the model, the prompt counted, the openai SDK called
(online or over the offline transport), and the reply turned into a result.

The public names (``Client``, ``AsyncClient``, ``ChatResult``, ...) are re-exported by
:mod:`llmpresets`.
"""
