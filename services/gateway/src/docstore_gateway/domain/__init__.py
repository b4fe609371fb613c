"""The gateway's pure rules: which paths exist, which tokens are well formed."""
