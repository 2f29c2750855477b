class OpsError(Exception):
    """A data operation could not be done; the message is one line for the
    operator, saying what to do."""
