"""The validation service: assembles each student's school year from accepted events
and validates it against Circular 27 (``hocba.records.validated`` / ``.invalid``)."""
