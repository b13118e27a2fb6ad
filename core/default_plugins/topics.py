"""Answer inside a department from the topics it declares: by number or keywords."""

from __future__ import annotations

from civic import hookimpl
from civic.reading import Reading
from civic.text import contains_keyword, fold
from civic.values import Answer, Department, DepartmentAction, HandOver, StartForm, Topic


def match_topic(department: Department, text: str, folded: str | None = None) -> Topic | None:
    """The topic chosen by number, by title, or by the most keywords (no ties);
    ``folded`` is the text already folded (the message's reading), when at hand."""
    folded = fold(text) if folded is None else folded
    topics = department.topics
    if not folded:
        return None
    if folded.isdigit():
        number = int(folded)
        return topics[number - 1] if 1 <= number <= len(topics) else None
    for topic in topics:
        if folded == fold(topic.title):
            return topic
    scores = [sum(contains_keyword(folded, word) for word in topic.keywords) for topic in topics]
    best = max(scores, default=0)
    if not best or scores.count(best) > 1:
        return None
    return topics[scores.index(best)]


def topic_action(topic: Topic) -> DepartmentAction:
    if topic.form:
        return StartForm(form=topic.form)
    if topic.handover:
        return HandOver(text=topic.answer or "")
    return Answer(text=topic.answer or topic.title, done=True)


@hookimpl(trylast=True)
def department_message(
    department: Department, text: str, message: Reading
) -> DepartmentAction | None:
    topic = match_topic(department, text, message.folded)
    return topic_action(topic) if topic else None
