"""Answer inside a department from the topics it declares: by number or keywords."""

from __future__ import annotations

from civic import hookimpl, request
from civic.reading import Reading
from civic.text import contains_keyword, fold
from civic.texts import Texts
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


def topic_action(
    topic: Topic, message: Reading | None = None, texts: Texts | None = None
) -> DepartmentAction:
    """What choosing ``topic`` does; an answer with ``then_form`` goes on to the form when
    ``message`` tells a story (see :func:`tells_a_story`)."""
    if topic.form:
        return StartForm(form=topic.form)
    if topic.handover:
        return HandOver(text=topic.answer or "")
    answer = topic.answer or topic.title
    told = message is not None and texts is not None and tells_a_story(message, texts)
    if topic.then_form and told and texts is not None:
        return StartForm(form=topic.then_form, text=f"{answer}\n\n{texts('form_from_story')}")
    return Answer(text=answer, done=True)


def tells_a_story(message: Reading, texts: Texts) -> bool:
    """Whether the citizen told what happened (a description of four words or more, see
    :func:`civic.request.describes`) rather than asked a question ("?", or a first word
    of ``words.question_starts``: "qual", "como", "posso"...)."""
    if "?" in message.text or not request.describes(message.text, texts.words("request_fillers")):
        return False
    starts = texts.words("question_starts")
    words = message.folded.split()
    return not any(" ".join(words[: len(start.split())]) == start for start in starts if start)


@hookimpl(trylast=True)
def department_message(
    department: Department, text: str, message: Reading, texts: Texts
) -> DepartmentAction | None:
    topic = match_topic(department, text, message.folded)
    return topic_action(topic, message, texts) if topic else None
