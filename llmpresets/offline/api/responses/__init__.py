"""The Responses API: ``/responses`` requests parsed and checked, reply objects and events
built from the SDK's types, and the bounded store behind ``previous_response_id``.
"""
