"""The signing service (ký số học bạ): renders each validated record version to its year page
and signs it as its signers approve (homeroom teacher, principal, then the school seal).

Run it with ``python -m services.signing`` or ``hocba run signing``.
"""
