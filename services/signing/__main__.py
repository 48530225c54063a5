import sys

from services.signing.app import main

sys.exit(main())
