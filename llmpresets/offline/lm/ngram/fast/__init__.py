"""The n-gram model's shortcut: steps settled without building their logits, exactly.

Pure speed: with the model's ``fast`` switch off, every step goes through the logits and the
sampler, and seeded replies are the same (tests compare both). One entry point,
:meth:`.settler.Settler.shortcut`, which a bound prompt's ``shortcut()`` calls:

- :mod:`.settler` — per model: the plans of histories met, and the ``run`` / ``settle`` loop;
- :mod:`.maths` — settling one step from its history's support (the rules, and why exact);
- :mod:`.supports` — every history's support in a section, built in bulk with numpy.
"""
