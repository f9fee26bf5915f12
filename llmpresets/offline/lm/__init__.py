"""Next-token sources: the protocol every source implements, user callables, and the
packaged corpus the default model is trained on. Imports nothing above it.
"""
