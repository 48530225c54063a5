import sys

from services.validation.app import main

sys.exit(main())
