"""The decoding loops: free text, constrained (grammar-masked) text and tool choice, each
drawing with the preset's sampling maths from a next-token source.
"""
