"""The API layer of the offline backend: per endpoint, parse the body, check it as the API
does, and build the reply body from the SDK's types.

The only layer that raises the API's errors (:class:`~.errors.WireError`).
"""
