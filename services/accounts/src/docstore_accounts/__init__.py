"""DocStore accounts: the one owner of identity (issue 36)."""
