"""The `update_record` action: set fields of the run's related record."""

from orchestrator.actions.registry import ActionFailed, Param, Result, register_action


@register_action(
    "update_record",
    params=[Param("fields", dict, required=True, help="Field name to value (or expression).")],
)
def update_record(params, context):
    """Set fields of the run's related record."""
    record = context.record
    if record is None:
        raise ActionFailed("This run has no related record to update.")
    fields = params["fields"]
    names = {field.name for field in record._meta.concrete_fields}
    unknown = sorted(set(fields) - names)
    if unknown:
        raise ActionFailed(f"The record has no field named {', '.join(unknown)}.")
    for name, value in fields.items():
        setattr(record, name, value)
    record.full_clean(exclude=[n for n in names if n not in fields])
    record.save(update_fields=list(fields))
    return Result(outputs={"updated": sorted(fields)}, record_fields=dict(fields))
