"""``python -m services.national_sync``: run the national-sync service."""

from services.national_sync.app import main

raise SystemExit(main())
