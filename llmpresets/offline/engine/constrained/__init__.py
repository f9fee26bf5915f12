"""Constrained decoding: llguidance grammars, the token candidates a mask allows, the JSON
shape prior, and the loop that draws under a grammar.
"""
