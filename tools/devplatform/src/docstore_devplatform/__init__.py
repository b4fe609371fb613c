"""Local DocStore platform: real servers and the DocStore services as child processes.

* :mod:`docstore_devplatform.servers` starts Kafka (Tansu), MongoDB (SecantusDB),
  S3 (SeaweedFS), SES/STS (moto) and Typesense on loopback ports.
* :mod:`docstore_devplatform.services` starts the six DocStore services with uvicorn.
* ``python -m docstore_devplatform up|down|status`` runs the whole thing detached.
"""
