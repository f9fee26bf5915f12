"""The client: a preset resolved for the model, the prompt counted, the openai SDK called
(online or over the offline transport), and the reply turned into a result.

The public names (``Client``, ``AsyncClient``, ``ChatResult``, ...) are re-exported by
:mod:`llmpresets`. Its modules, in the order of a call:

- ``client.py``: ``Client`` and ``AsyncClient``, the calls users make;
- ``mode.py``: choosing offline (``offline_mode()``, ``LLMPRESETS_OFFLINE``);
- ``request.py``: preparing a call (arguments checked, preset resolved, prompt pre-flighted);
- ``sdk_errors.py``: the one boundary where SDK errors become ours;
- ``secrets.py``: scrubbing the API key from text and exceptions;
- ``results.py``: ``ChatResult`` and ``ResponseResult``, what calls return;
- ``streams.py``: assembling streamed replies into those results.
"""
