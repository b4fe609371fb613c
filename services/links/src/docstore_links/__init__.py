"""DocStore links: public share links (issue 36: moved out of metadata)."""
