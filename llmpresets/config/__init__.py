"""Configuration and model facts: presets.yaml (loading, layering, validation, its JSON
Schema), the parameter table, the model registry, and adapting a preset to a model.

The lowest layer of the package: it imports nothing else of llmpresets but ``_errors`` and
``_cache``. The public names are re-exported by :mod:`llmpresets`. Its modules, in the order
they import each other (each only the ones above it):

- ``params.py``: the parameter table (ranges, spellings per endpoint);
- ``models.py``: each model's limits and capabilities, and their lookup;
- ``bounded_regex.py``: regexes from user files, checked and time-bounded;
- ``schema.py``: the pydantic schema of presets.yaml;
- ``yaml_file.py``: bounded YAML loading that keeps line numbers;
- ``validation.py``: validation errors that name file and line;
- ``corpus_file.py``: checking the ``offline.corpus`` file at load;
- ``presets.py``: loading and layering the presets files (``PresetBook``);
- ``adapt.py``: a preset adapted to a model (``resolve_params``).
"""
