"""The definitions in the Django admin: a plain designer for orchestrations and their versions.

Active and retired versions are shown read-only (the model layer refuses changes anyway);
a version's page offers Validate, Activate and "New draft from this version".
"""

from orchestrator.admin import parts, versions  # noqa: F401  (register the model admins)
