"""Configuration and model facts: presets.yaml (loading, layering, validation, its JSON
Schema), the parameter table, the model registry, and adapting a preset to a model.

The lowest layer of the package: it imports nothing else of llmpresets but ``_errors`` and
``_cache``. The public names are re-exported by :mod:`llmpresets`.
"""
