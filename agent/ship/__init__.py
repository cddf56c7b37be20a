"""Getting snapshots to the control plane: HTTPS transport, a durable spool, and the delivery pass.

transport.py   ControlPlaneClient: TLS-only (loopback excepted), gzip, retries with backoff
errors.py      what a request can end in, one type per thing the caller does about it
backoff.py     pure: the retry schedule and Retry-After parsing
url_policy.py  pure: which --api-url values are acceptable
spool.py       Spool: atomic one-file-per-snapshot storage, bounded, with a persisted drop counter
split.py       pure: a too-large snapshot as smaller ones with deterministic ids
delivery.py    deliver_spooled: sends the spool oldest first and decides each snapshot's fate
"""
