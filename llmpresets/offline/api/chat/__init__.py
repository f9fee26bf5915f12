"""``POST /chat/completions``: the body parsed and checked (:mod:`.parse`, :mod:`.formats`),
run by the backend (:mod:`.endpoint`), answered in the SDK's own types (:mod:`.payloads`)."""
