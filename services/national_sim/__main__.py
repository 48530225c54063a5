"""``python -m services.national_sim``: run the national database simulator."""

from services.national_sim.app import main

raise SystemExit(main())
