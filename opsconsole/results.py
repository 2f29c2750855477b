"""The shape every data operation's result has, so that the commands, the
worker and the admin record and report any of them the same way."""


class OperationResult:
    # A check that ran and found problems is a result with ok=False, not an
    # error: the run is recorded as failed with the findings in its output.
    ok = True

    @property
    def summary(self):
        """One line for the operator: the command prints it, the run keeps it."""
        raise NotImplementedError

    def as_dict(self):
        """The --json payload and the run's recorded result."""
        raise NotImplementedError

    @property
    def artifact(self):
        """{"path", "size", "sha256"} of the file this operation made, or None."""
        return None

    def details(self):
        """Lines worth keeping in the run's output beyond the summary."""
        return []
