"""docstore: keeps a local folder and a DocStore account in step."""
