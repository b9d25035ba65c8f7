"""Steps whose whole form is one decision, with at most an optional comment ("Manager
approval": Approve / Reject, and a comment box). Such a step can be answered without its
screen: from the buttons of an email, or for several items at once in the inbox.
"""

from dataclasses import dataclass

from orchestrator.models import Field, ScreenFlow

# The field types a comment may have: text the person types, which may stay empty.
COMMENT_TYPES = {Field.Type.TEXT, Field.Type.LONG_TEXT}


@dataclass(frozen=True)
class QuickDecision:
    decision: Field
    comment: Field | None

    @property
    def choices(self) -> list[tuple[str, str]]:
        """(value, label) of each choice, in the designer's order."""
        return self.decision.choice_pairs

    def label_of(self, value: str) -> str | None:
        return dict(self.choices).get(value)

    def answers(self, value: str, comment: str = "") -> dict[str, str]:
        """The raw form values the step's form takes for this choice and comment (validated
        by that form, as when the person answers on the screen)."""
        answers = {self.decision.key: value}
        if self.comment is not None:
            answers[self.comment.key] = comment
        return answers


def quick_decision(flow: ScreenFlow | None) -> QuickDecision | None:
    """The flow's decision, when the flow is one screen holding a decision and at most one
    optional text field; None otherwise (the person must open the screen)."""
    if flow is None:
        return None
    screens = list(flow.screens.all())
    if len(screens) != 1:
        return None
    fields = list(screens[0].fields.all())
    decisions = [f for f in fields if f.type == Field.Type.DECISION]
    others = [f for f in fields if f.type != Field.Type.DECISION]
    if len(decisions) != 1 or not decisions[0].choice_pairs or len(others) > 1:
        return None
    comment = others[0] if others else None
    if comment is not None and (comment.required or comment.type not in COMMENT_TYPES):
        return None
    return QuickDecision(decisions[0], comment)
