"""The constrained decoder's shortcuts: what its steps share, kept and found again exactly.

:class:`~llmpresets.offline.engine.constrained.fast.step_cache.StepCache` is the one entry
point: the decoder asks it what it asks its plain path (a step's mask view, the source's
smoothed scores, the draw) and gets the same tokens from the same random numbers, faster.
:mod:`.string_step` settles steps inside JSON strings from what their lengths share.
``generate_constrained(..., fast=False)`` runs without any of it.
"""
