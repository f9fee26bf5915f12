"""The default next-token source: a Witten-Bell n-gram model over the tokenizer's ids.

- :mod:`.model` — the model: logits for a history, per section of style;
- :mod:`.tables` — training: a corpus counted into compressed-row tables;
- :mod:`.view` — the tables as the model and its shortcut read them;
- :mod:`.files` — model files and the on-disk cache, as arrays;
- :mod:`.fast` — the exact shortcut that skips building whole distributions (one switch).
"""
