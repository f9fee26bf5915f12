"""The default next-token source: a Witten-Bell n-gram model over the tokenizer's ids, its
tables and files, and the exact shortcuts that skip building whole distributions.
"""
