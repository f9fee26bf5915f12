"""What one request runs: the model's facts, the seeds, scripted replies and simulated
reasoning, around the engine's decoding loops.
"""
