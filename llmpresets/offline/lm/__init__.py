"""Next-token sources: where the offline backend's logits come from. Imports nothing above it.

- :mod:`.protocol` — what a source and a stepper are (typed capabilities, the shortcut);
- :mod:`.sources` — any source made typed, its step functions, prompt text, token text;
- :mod:`.default` — the default source: the packaged model, or the configured corpus;
- :mod:`.corpus` — the corpus text format, and the packaged corpus;
- :mod:`.ngram` — the n-gram model, its tables and files, and its exact shortcut (``fast/``).
"""
