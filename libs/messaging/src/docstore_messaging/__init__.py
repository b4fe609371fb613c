"""DocStore's messaging machinery, apart from the event contracts (`docstore_events`, which needs
pydantic alone): the outbox and its relay (`outbox`), the MongoDB unit of work that writes state
and events together (`unit_of_work`), idempotent and batch consumers with retries and dead
letters (`consumer`, `batches`, `dead_letters`), one service's broker, outbox and consumers in
one object (`runtime`), and the tracing, metrics and fault hooks they share.
"""
