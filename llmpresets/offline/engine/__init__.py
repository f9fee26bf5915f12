"""The decoding loops: free text, constrained (grammar-masked) text and tool choice, each
drawing with the preset's sampling maths from a next-token source.

- ``types``: what the engine is asked (settings, formats, tools) and answers (generations);
- ``text``: the free-text loop; ``emitter``: tokens into text pieces and logprobs;
- ``structured``: a request's grammars compiled once, and its JSON or tool-call choice;
  ``tool_choice``: which tools a reply calls; ``prompt_words``: the prompt's words as hints;
- ``constrained/``: decoding under a grammar (its fast path in ``constrained/fast/``);
- ``scripted``: scripted tables, drawn and written like tokens;
- ``frozen``: the contract that lets a source's array be known by its identity.
"""
