"""The national-sync service (đồng bộ CSDL ngành): every signed record version, exactly once.

Consumes ``hocba.records.stored`` and delivers each version to the national education
database's API (``docs/openapi/national.yaml``; ``services.national_sim`` simulates it):
back-off with jitter and Retry-After, a circuit breaker that holds consumption during an
outage, dead letters on ``hocba.sync.dlq`` with every attempt, each attempt on
``hocba.sync.status``, the last word per version in PostgreSQL. Run it with
``python -m services.national_sync``; operate it with ``hocba sync status|replay|reconcile``.
"""
