"""The gateway's use cases: log in and out, authenticate a bearer token, forward a request."""
