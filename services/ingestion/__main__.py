"""``python -m services.ingestion``: run the ingestion service."""

from services.ingestion.app import main

raise SystemExit(main())
