"""DocStore analytics: daily roll-ups of usage, downloads and sharing, built from events."""
