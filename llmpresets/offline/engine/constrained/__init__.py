"""Constrained decoding: llguidance grammars, the token candidates a mask allows, the JSON
shape prior, the scores and the draw of a step, and the loop that draws under a grammar.

``decoder`` is the loop and the plain maths of a step (``scores``, ``floor``); ``grammar``,
``candidates`` and ``json_prior`` are what a step reads; ``fast/`` is the step cache and the
string-step shortcut, which the decoder's ``fast=False`` switches off.
"""
