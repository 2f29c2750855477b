from opsconsole.commandline import OpsCommand
from opsconsole.integrity import check_integrity


class Command(OpsCommand):
    help = (
        "Check the database's storage (SQLite integrity_check and foreign keys; "
        "PostgreSQL amcheck) and TinyLink's invariants. Lists every finding and "
        "exits non-zero if there is any."
    )
    kind = "integrity"

    def handle(self, *args, **options):
        def operation(recorder):
            result = check_integrity(progress=self.progress)
            for note in result.notes:
                self.stderr.write(f"note: {note}")
                recorder.log(f"note: {note}")
            for finding in result.findings:
                if not options["json"]:
                    self.stdout.write(f"FINDING {finding}")
                recorder.log(f"FINDING {finding}")
            payload = {
                "ok": result.ok,
                "findings": [
                    {"check": f.check, "detail": f.detail} for f in result.findings
                ],
                "notes": result.notes,
                "checked": result.checked,
            }
            summary = (
                "Integrity check passed: no findings."
                if result.ok
                else f"Integrity check found {len(result.findings)} problem(s)."
            )
            return summary, payload, None

        self.run_operation(options, operation)
